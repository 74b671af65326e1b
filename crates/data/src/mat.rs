//! The course's `mnist_all.mat`: MAT v5, 20 uint8 variables `train0`..`train9`, `test0`..`test9`,
//! each N×784 and stored column-major (MATLAB order: element (i, j) at `j * N + i`).
//!
//! The `matfile` crate decodes each matrix, but on its own it stops silently at the first element
//! it cannot parse and returns what it has: a truncated file would load as a smaller dataset. So
//! this module walks the file's top-level elements itself, checks every declared length against
//! the bytes present, inflates compressed elements with a bound, and hands `matfile` one complete
//! matrix element at a time.

use std::io::Read;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use flate2::read::ZlibDecoder;

use crate::error::{DataError, ErrorKind, Result};
use crate::{IMAGE_PIXELS, NUM_CLASSES, Split};

/// MAT v5 header: 116 bytes of text, 8 of subsystem offset, 2 of version, 2 of endian indicator.
const HEADER_LEN: usize = 128;
// Data types of data-element tags (MAT-File Format, MathWorks, table "MAT-File Data Types").
pub(crate) const MI_INT8: u32 = 1;
pub(crate) const MI_INT32: u32 = 5;
pub(crate) const MI_UINT32: u32 = 6;
pub(crate) const MI_MATRIX: u32 = 14;
pub(crate) const MI_COMPRESSED: u32 = 15;
// Array classes (same document, table "MATLAB Array Types").
pub(crate) const MX_UINT8: u8 = 9;
/// DEFLATE cannot expand data by more than about 1032:1, so a compressed element that claims
/// more than this per input byte is corrupt; checked before any buffer is sized from it.
const MAX_INFLATE_RATIO: u64 = 1032;
/// How much of a compressed element's declared size is reserved up front, per input byte.
const MAX_RESERVE_RATIO: u64 = 16;

#[derive(Clone, Copy)]
enum Endian {
    Little,
    Big,
}

impl Endian {
    fn u32(self, b: &[u8]) -> u32 {
        let a = [b[0], b[1], b[2], b[3]];
        match self {
            Endian::Little => u32::from_le_bytes(a),
            Endian::Big => u32::from_be_bytes(a),
        }
    }
    fn u16(self, b: &[u8]) -> u16 {
        let a = [b[0], b[1]];
        match self {
            Endian::Little => u16::from_le_bytes(a),
            Endian::Big => u16::from_be_bytes(a),
        }
    }
}

/// The names the course layout requires, in the order their images are concatenated.
pub fn variable_names(prefix: &str) -> impl Iterator<Item = String> + '_ {
    (0..NUM_CLASSES).map(move |d| format!("{prefix}{d}"))
}

/// Loads both splits of a course-layout `.mat` file.
pub fn load(path: &Path) -> Result<(Split, Split)> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    parse(path, &bytes)
}

/// Parses the bytes of a course-layout `.mat` file; `path` is only used in errors.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<(Split, Split)> {
    let err = |kind| DataError::new(path, kind);
    let endian = check_header(bytes).map_err(err)?;
    let elements = top_level_elements(bytes, endian).map_err(err)?;

    // Decode the elements on all cores: inflating and transposing dominate the load time.
    let wanted: Vec<String> = variable_names("train")
        .chain(variable_names("test"))
        .collect();
    let found: Mutex<Vec<Option<Vec<u8>>>> = Mutex::new(vec![None; wanted.len()]);
    let first_error: Mutex<Option<(usize, ErrorKind)>> = Mutex::new(None);
    let next = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(elements.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let Some(element) = elements.get(k) else {
                        break;
                    };
                    match decode_element(bytes, endian, element, &wanted) {
                        Ok(None) => {}
                        Ok(Some((slot, image_rows))) => {
                            let mut found = found.lock().unwrap_or_else(|p| p.into_inner());
                            if found[slot].is_some() {
                                let kind = ErrorKind::Corrupt(format!(
                                    "variable `{}` appears twice",
                                    wanted[slot]
                                ));
                                record_error(&first_error, k, kind);
                            }
                            found[slot] = Some(image_rows);
                        }
                        Err(kind) => record_error(&first_error, k, kind),
                    }
                }
            });
        }
    });
    // Report the error of the earliest element, so the message does not depend on thread timing.
    if let Some((_, kind)) = first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(err(kind));
    }
    let found = found.into_inner().unwrap_or_else(|p| p.into_inner());
    let mut splits = Vec::with_capacity(2);
    for (half, names) in found.chunks(NUM_CLASSES).zip(wanted.chunks(NUM_CLASSES)) {
        let mut images = Vec::new();
        let mut labels = Vec::new();
        for (digit, (rows, name)) in half.iter().zip(names).enumerate() {
            let rows = rows
                .as_ref()
                .ok_or_else(|| err(ErrorKind::MissingVariable(name.clone())))?;
            images.extend_from_slice(rows);
            labels.resize(labels.len() + rows.len() / IMAGE_PIXELS, digit as u8);
        }
        splits.push(Split::new(images, labels));
    }
    let test = splits.pop().expect("two halves");
    let train = splits.pop().expect("two halves");
    Ok((train, test))
}

fn record_error(slot: &Mutex<Option<(usize, ErrorKind)>>, k: usize, kind: ErrorKind) {
    let mut slot = slot.lock().unwrap_or_else(|p| p.into_inner());
    if slot.as_ref().is_none_or(|(j, _)| k < *j) {
        *slot = Some((k, kind));
    }
}

fn check_header(bytes: &[u8]) -> std::result::Result<Endian, ErrorKind> {
    if bytes.is_empty() {
        return Err(ErrorKind::Empty);
    }
    // MAT v7.3 files are HDF5 containers with a 512-byte user block holding a MAT-style text.
    const HDF5_MAGIC: &[u8] = b"\x89HDF\r\n\x1a\n";
    if bytes.starts_with(b"MATLAB 7.3")
        || bytes.starts_with(HDF5_MAGIC)
        || bytes.get(512..520) == Some(HDF5_MAGIC)
    {
        return Err(ErrorKind::MatV73);
    }
    if bytes.starts_with(b"version https://git-lfs") {
        return Err(ErrorKind::NotMat(
            "it is a Git LFS pointer, not the data; run `git lfs pull`".into(),
        ));
    }
    if bytes.len() < HEADER_LEN {
        return Err(ErrorKind::NotMat(format!(
            "{} bytes, shorter than the 128-byte MAT header",
            bytes.len()
        )));
    }
    if !bytes.starts_with(b"MATLAB") {
        return Err(ErrorKind::NotMat(
            "the header text does not start with \"MATLAB\"".into(),
        ));
    }
    let endian = match &bytes[126..128] {
        b"IM" => Endian::Little,
        b"MI" => Endian::Big,
        other => {
            return Err(ErrorKind::NotMat(format!(
                "endian indicator {other:?} is neither \"IM\" nor \"MI\""
            )));
        }
    };
    match endian.u16(&bytes[124..126]) {
        0x0100 => Ok(endian),
        0x0200 => Err(ErrorKind::MatV73),
        v => Err(ErrorKind::NotMat(format!("unknown version 0x{v:04x}"))),
    }
}

struct Element {
    offset: usize,
    data_type: u32,
    /// The element's data, without its 8-byte tag.
    data: std::ops::Range<usize>,
}

/// Walks the top-level data elements, checking each declared length against the file.
fn top_level_elements(
    bytes: &[u8],
    endian: Endian,
) -> std::result::Result<Vec<Element>, ErrorKind> {
    let mut elements = Vec::new();
    let mut offset = HEADER_LEN;
    while offset < bytes.len() {
        let remaining = bytes.len() - offset;
        if remaining < 8 {
            return Err(ErrorKind::Truncated(format!(
                "element #{} at byte {offset} is cut off inside its 8-byte tag",
                elements.len() + 1
            )));
        }
        let data_type = endian.u32(&bytes[offset..]);
        let size = endian.u32(&bytes[offset + 4..]) as usize;
        if data_type != MI_MATRIX && data_type != MI_COMPRESSED {
            return Err(ErrorKind::Corrupt(format!(
                "element #{} at byte {offset} has data type {data_type}, \
                 expected a matrix (14) or a compressed matrix (15)",
                elements.len() + 1
            )));
        }
        let start = offset + 8;
        if size > bytes.len() - start {
            return Err(ErrorKind::Truncated(format!(
                "element #{} at byte {offset} declares {size} bytes but only {} remain",
                elements.len() + 1,
                bytes.len() - start
            )));
        }
        elements.push(Element {
            offset,
            data_type,
            data: start..start + size,
        });
        offset = start + size;
        if data_type == MI_MATRIX {
            // Uncompressed elements are padded to 8 bytes; the last one may omit its padding.
            offset = (offset.div_ceil(8) * 8).min(bytes.len().max(offset));
        }
    }
    if elements.is_empty() {
        return Err(ErrorKind::Truncated(
            "the header is followed by no variables".into(),
        ));
    }
    Ok(elements)
}

/// Decodes one element. `Ok(None)` for a variable the course layout does not use; otherwise the
/// index of the variable in `wanted` and its images, row-major, `[n, 784]`.
fn decode_element(
    bytes: &[u8],
    endian: Endian,
    element: &Element,
    wanted: &[String],
) -> std::result::Result<Option<(usize, Vec<u8>)>, ErrorKind> {
    let payload = &bytes[element.data.clone()];
    // `matrix` holds a whole miMATRIX element, tag included.
    let inflated;
    let matrix: &[u8] = if element.data_type == MI_COMPRESSED {
        inflated = inflate(payload, endian).map_err(|why| {
            ErrorKind::Corrupt(format!(
                "compressed element at byte {}: {why}",
                element.offset
            ))
        })?;
        &inflated
    } else {
        &bytes[element.offset..element.data.end]
    };
    let header = peek_matrix(matrix, endian).map_err(|why| {
        ErrorKind::Corrupt(format!("matrix element at byte {}: {why}", element.offset))
    })?;
    let Some(slot) = wanted.iter().position(|w| *w == header.name) else {
        return Ok(None);
    };
    if header.class != MX_UINT8 {
        return Err(ErrorKind::WrongClass {
            name: header.name,
            class: class_name(header.class).to_string(),
        });
    }
    if header.dims.len() != 2 || header.dims[1] != IMAGE_PIXELS {
        return Err(ErrorKind::WrongShape {
            name: header.name,
            shape: header.dims,
        });
    }
    let rows = header.dims[0];
    // The pixels must fit in the element before anyone allocates for them.
    if rows.saturating_mul(IMAGE_PIXELS) > matrix.len() {
        return Err(ErrorKind::Corrupt(format!(
            "variable `{}` claims {rows}×784 pixels but its element has only {} bytes",
            header.name,
            matrix.len()
        )));
    }
    let column_major = decode_with_matfile(bytes, matrix, &header.name)?;
    if column_major.len() != rows * IMAGE_PIXELS {
        return Err(ErrorKind::Corrupt(format!(
            "variable `{}` holds {} values, expected {rows}×784",
            header.name,
            column_major.len()
        )));
    }
    Ok(Some((
        slot,
        column_to_row_major(&column_major, rows, IMAGE_PIXELS),
    )))
}

/// Runs `matfile` on the file header plus one complete matrix element.
fn decode_with_matfile(
    file: &[u8],
    matrix: &[u8],
    name: &str,
) -> std::result::Result<Vec<u8>, ErrorKind> {
    let mut single = Vec::with_capacity(HEADER_LEN + matrix.len());
    single.extend_from_slice(&file[..HEADER_LEN]);
    single.extend_from_slice(matrix);
    // `matfile` is not written for hostile input; a panic inside it is reported as corruption.
    let parsed = catch_unwind(AssertUnwindSafe(|| {
        matfile::MatFile::parse(single.as_slice())
    }));
    let corrupt = |why: &str| ErrorKind::Corrupt(format!("variable `{name}`: {why}"));
    let mat = match parsed {
        Ok(Ok(mat)) => mat,
        Ok(Err(e)) => return Err(corrupt(&e.to_string())),
        Err(_) => return Err(corrupt("the MAT decoder failed on it")),
    };
    match mat.find_by_name(name).map(|a| a.data()) {
        Some(matfile::NumericData::UInt8 { real, imag: None }) => Ok(real.clone()),
        Some(matfile::NumericData::UInt8 { imag: Some(_), .. }) => Err(ErrorKind::WrongClass {
            name: name.to_string(),
            class: "complex uint8".into(),
        }),
        Some(_) => Err(corrupt("its data is not stored as uint8")),
        None => Err(corrupt("its data could not be decoded")),
    }
}

/// Inflates a compressed element, refusing sizes the compressed length cannot explain.
fn inflate(payload: &[u8], endian: Endian) -> std::result::Result<Vec<u8>, String> {
    let mut decoder = ZlibDecoder::new(payload);
    let mut tag = [0u8; 8];
    decoder
        .read_exact(&mut tag)
        .map_err(|e| format!("cannot inflate its tag ({e})"))?;
    let data_type = endian.u32(&tag);
    let size = endian.u32(&tag[4..]) as u64;
    if data_type != MI_MATRIX {
        return Err(format!(
            "holds data type {data_type}, expected a matrix (14)"
        ));
    }
    if size > MAX_INFLATE_RATIO * payload.len() as u64 {
        return Err(format!(
            "claims {size} bytes from {} compressed bytes",
            payload.len()
        ));
    }
    // `size` passed only DEFLATE's bound, which still lets a 4 MB element claim 4 GiB: reserve no
    // more than 16 bytes per compressed byte (the course's file inflates < 8:1) and let the
    // buffer grow with data that is actually there.
    let reserve = size.min(MAX_RESERVE_RATIO * payload.len() as u64);
    let mut out = Vec::with_capacity(8 + reserve as usize);
    out.extend_from_slice(&tag);
    (&mut decoder)
        .take(size)
        .read_to_end(&mut out)
        .map_err(|e| format!("the zlib stream is damaged ({e})"))?;
    if out.len() as u64 != 8 + size {
        return Err(format!(
            "the zlib stream ends after {} of {size} bytes",
            out.len() - 8
        ));
    }
    // Read on to the end of the stream, so that zlib's Adler-32 trailer is verified too.
    match decoder.read(&mut [0u8; 1]) {
        Ok(0) => Ok(out),
        Ok(_) => Err(format!(
            "it inflates to more than the {size} bytes its tag declares"
        )),
        Err(e) => Err(format!("the zlib stream is damaged ({e})")),
    }
}

struct MatrixHeader {
    class: u8,
    dims: Vec<usize>,
    name: String,
}

/// Reads the array flags, dimensions and name of a miMATRIX element (tag included), enough to
/// name the variable in errors and to check class and shape before decoding its data.
fn peek_matrix(m: &[u8], endian: Endian) -> std::result::Result<MatrixHeader, String> {
    let mut pos = 8; // skip the miMATRIX tag itself
    let mut sub = |what: &str, expect: u32| -> std::result::Result<&[u8], String> {
        let tag = m
            .get(pos..pos + 4)
            .ok_or(format!("cut off before its {what}"))?;
        let first = endian.u32(tag);
        let (ty, len, data_start) = if first >> 16 != 0 {
            // Small data element: type and length packed in 4 bytes, data in the next 4.
            (first & 0xffff, (first >> 16) as usize, pos + 4)
        } else {
            let len = m
                .get(pos + 4..pos + 8)
                .ok_or(format!("cut off in its {what}"))?;
            (first, endian.u32(len) as usize, pos + 8)
        };
        if ty != expect {
            return Err(format!("its {what} has data type {ty}, expected {expect}"));
        }
        let data = m
            .get(data_start..data_start.saturating_add(len))
            .ok_or(format!("its {what} runs past the element"))?;
        pos = if data_start == pos + 4 {
            pos + 8
        } else {
            data_start + len.div_ceil(8) * 8
        };
        Ok(data)
    };
    let flags = sub("array flags", MI_UINT32)?;
    if flags.len() < 8 {
        return Err("its array flags are shorter than 8 bytes".into());
    }
    let class = endian.u32(flags) as u8;
    let dims: Vec<usize> = sub("dimensions", MI_INT32)?
        .chunks_exact(4)
        .map(|d| endian.u32(d) as i32)
        .map(|d| usize::try_from(d).map_err(|_| format!("negative dimension {d}")))
        .collect::<std::result::Result<_, _>>()?;
    let name = String::from_utf8_lossy(sub("name", MI_INT8)?).into_owned();
    Ok(MatrixHeader { class, dims, name })
}

fn class_name(class: u8) -> &'static str {
    match class {
        1 => "cell",
        2 => "struct",
        3 => "object",
        4 => "char",
        5 => "sparse",
        6 => "double",
        7 => "single",
        8 => "int8",
        9 => "uint8",
        10 => "int16",
        11 => "uint16",
        12 => "int32",
        13 => "uint32",
        14 => "int64",
        15 => "uint64",
        _ => "unknown",
    }
}

/// `[rows, cols]` column-major (MATLAB) to row-major (C): out[i * cols + j] = src[j * rows + i].
/// Tiled, so both sides stay in cache: a plain double loop strides 784 bytes per write.
pub fn column_to_row_major(src: &[u8], rows: usize, cols: usize) -> Vec<u8> {
    const TILE: usize = 64;
    let mut out = vec![0u8; rows * cols];
    for i0 in (0..rows).step_by(TILE) {
        for j0 in (0..cols).step_by(TILE) {
            for j in j0..(j0 + TILE).min(cols) {
                let column = &src[j * rows..(j + 1) * rows];
                for i in i0..(i0 + TILE).min(rows) {
                    out[i * cols + j] = column[i];
                }
            }
        }
    }
    out
}
