//! The standard IDX files (LeCun's MNIST distribution, also used by Fashion-MNIST): a folder with
//! `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte` and
//! `t10k-labels-idx1-ubyte`, each raw or gzipped (`.gz`).

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;

use crate::error::{DataError, ErrorKind, Result};
use crate::{IMAGE_PIXELS, IMAGE_SIDE, NUM_CLASSES, Split};

/// Magic numbers from the IDX format description on yann.lecun.com/exdb/mnist:
/// 0x0000_0803 = unsigned bytes, 3 dimensions; 0x0000_0801 = unsigned bytes, 1 dimension.
pub const IMAGES_MAGIC: u32 = 2051;
pub const LABELS_MAGIC: u32 = 2049;
pub(crate) const IMAGES_HEADER: usize = 16;
pub(crate) const LABELS_HEADER: usize = 8;

/// File stems of the four IDX files: (images, labels) for the train and the test split.
pub const TRAIN_FILES: (&str, &str) = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte");
pub const TEST_FILES: (&str, &str) = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte");

/// Whether `bytes` (a whole file, raw or gzipped) begin like one of the IDX files: a user who
/// passes one file of the set instead of its folder is told so, not that it is no MAT file.
pub(crate) fn looks_like_idx_file(bytes: &[u8]) -> bool {
    let mut magic = [0u8; 4];
    let read = if bytes.starts_with(&GZIP_MAGIC) {
        GzDecoder::new(bytes).read_exact(&mut magic).is_ok()
    } else {
        bytes.get(..4).map(|b| magic.copy_from_slice(b)).is_some()
    };
    read && [IMAGES_MAGIC, LABELS_MAGIC].contains(&u32::from_be_bytes(magic))
}

/// The first two bytes of every gzip stream (RFC 1952, section 2.3.1).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Loads both splits from a folder of IDX files.
pub fn load(dir: &Path) -> Result<(Split, Split)> {
    let train = load_split(dir, TRAIN_FILES)?;
    let test = load_split(dir, TEST_FILES)?;
    Ok((train, test))
}

fn load_split(dir: &Path, (images, labels): (&str, &str)) -> Result<Split> {
    let images_path = find(dir, images)?;
    let labels_path = find(dir, labels)?;
    let pixels = read_images(&images_path)?;
    let labels_vec = read_labels(&labels_path)?;
    let n_images = pixels.len() / IMAGE_PIXELS;
    if n_images != labels_vec.len() {
        return Err(DataError::new(
            &labels_path,
            ErrorKind::Idx(format!(
                "holds {} labels but {} holds {n_images} images",
                labels_vec.len(),
                images_path.display()
            )),
        ));
    }
    Ok(Split::new(pixels, labels_vec))
}

/// The raw file if present, else its `.gz`.
fn find(dir: &Path, stem: &str) -> Result<PathBuf> {
    let raw = dir.join(stem);
    if raw.is_file() {
        return Ok(raw);
    }
    let gz = dir.join(format!("{stem}.gz"));
    if gz.is_file() {
        return Ok(gz);
    }
    Err(DataError::new(
        dir,
        ErrorKind::NotFound(format!(
            "no `{stem}` or `{stem}.gz` in this folder (an IDX folder needs the four MNIST files)"
        )),
    ))
}

/// Reads a whole IDX file, gunzipping `.gz`, never reading more than `limit` bytes, so a header
/// that claims more than the file holds cannot make us allocate for it.
fn read_limited(
    path: &Path,
    header_len: usize,
    expected_len: impl Fn(&[u8]) -> std::result::Result<u64, String>,
) -> Result<Vec<u8>> {
    let file = File::open(path).map_err(|e| DataError::io(path, e))?;
    let on_disk = file.metadata().map_err(|e| DataError::io(path, e))?.len();
    let gz = path.extension().is_some_and(|e| e == "gz");
    let mut reader: Box<dyn Read> = if gz {
        Box::new(GzDecoder::new(BufReader::new(file)))
    } else {
        Box::new(BufReader::new(file))
    };
    let bad = |why: String| DataError::new(path, ErrorKind::Idx(why));
    let mut header = vec![0u8; header_len];
    reader.read_exact(&mut header).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            bad(format!("shorter than its {header_len}-byte header"))
        } else {
            bad(format!("cannot read the header ({e})"))
        }
    })?;
    let expected = expected_len(&header).map_err(bad)?;
    // A raw file's size is known up front: check it before reading. A gzip stream is read in
    // growing chunks, stopping one byte past what the header allows.
    let length_error = |got: u64| {
        if got < expected {
            bad(format!(
                "truncated: its header implies {expected} bytes, the file holds {got}"
            ))
        } else {
            bad(format!(
                "has trailing bytes after the {expected} its header implies"
            ))
        }
    };
    if !gz && on_disk != expected {
        return Err(length_error(on_disk));
    }
    let mut data = header;
    data.reserve(expected.min(on_disk.saturating_mul(if gz { 8 } else { 1 })) as usize);
    reader
        .take(expected + 1 - header_len as u64)
        .read_to_end(&mut data)
        .map_err(|e| bad(format!("cannot read the data ({e})")))?;
    if data.len() as u64 != expected {
        return Err(length_error(data.len() as u64));
    }
    Ok(data)
}

fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Images, row-major `[n, 784]`, with the 16-byte header checked and stripped.
pub fn read_images(path: &Path) -> Result<Vec<u8>> {
    let mut data = read_limited(path, IMAGES_HEADER, |h| {
        let magic = be_u32(h);
        if magic != IMAGES_MAGIC {
            return Err(format!(
                "magic number {magic}, expected {IMAGES_MAGIC} for an image file"
            ));
        }
        let (n, rows, cols) = (be_u32(&h[4..]), be_u32(&h[8..]), be_u32(&h[12..]));
        if rows as usize != IMAGE_SIDE || cols as usize != IMAGE_SIDE {
            return Err(format!("images are {rows}×{cols}, expected 28×28"));
        }
        Ok(IMAGES_HEADER as u64 + n as u64 * IMAGE_PIXELS as u64)
    })?;
    data.drain(..IMAGES_HEADER);
    Ok(data)
}

/// Labels, one byte each in 0..=9, with the 8-byte header checked and stripped.
pub fn read_labels(path: &Path) -> Result<Vec<u8>> {
    let mut data = read_limited(path, LABELS_HEADER, |h| {
        let magic = be_u32(h);
        if magic != LABELS_MAGIC {
            return Err(format!(
                "magic number {magic}, expected {LABELS_MAGIC} for a label file"
            ));
        }
        Ok(LABELS_HEADER as u64 + be_u32(&h[4..]) as u64)
    })?;
    data.drain(..LABELS_HEADER);
    if let Some(i) = data.iter().position(|&l| l as usize >= NUM_CLASSES) {
        return Err(DataError::new(
            path,
            ErrorKind::Idx(format!("label #{i} is {}, expected 0..=9", data[i])),
        ));
    }
    Ok(data)
}
