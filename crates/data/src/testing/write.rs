//! Writers of the two file formats the loaders read: to cut the test fixtures from the real data
//! and to build damaged files for the loaders' tests. Test tooling, not part of the loaders.

use std::io::Write;
use std::path::Path;

use flate2::Compression;
use flate2::write::{GzEncoder, ZlibEncoder};

use crate::idx::{IMAGES_HEADER, IMAGES_MAGIC, LABELS_HEADER, LABELS_MAGIC};
use crate::mat::{MI_COMPRESSED, MI_INT8, MI_INT32, MI_MATRIX, MI_UINT32, MX_UINT8};
use crate::{IMAGE_PIXELS, IMAGE_SIDE, NUM_CLASSES, Split};

/// MAT v5 data types and array classes only the writer needs (MAT-File Format, MathWorks, tables
/// "MAT-File Data Types" and "MATLAB Array Types"): uint8 and double data, the double class.
const MI_UINT8: u32 = 2;
const MI_DOUBLE: u32 = 9;
const MX_DOUBLE: u8 = 6;

/// `[rows, cols]` row-major to column-major; the inverse of
/// [`crate::mat::column_to_row_major`].
pub fn row_to_column_major<T: Copy + Default>(src: &[T], rows: usize, cols: usize) -> Vec<T> {
    let mut out = vec![T::default(); rows * cols];
    for i in 0..rows {
        for j in 0..cols {
            out[j * rows + i] = src[i * cols + j];
        }
    }
    out
}

/// Data for one variable written by [`write_mat`], column-major like MATLAB's.
pub enum MatData {
    U8(Vec<u8>),
    F64(Vec<f64>),
}

/// One variable for [`write_mat`].
pub struct MatVar {
    pub name: String,
    pub rows: usize,
    pub cols: usize,
    pub data: MatData,
}

impl MatVar {
    /// A uint8 variable from a row-major `[rows, cols]` buffer.
    pub fn from_rows(name: &str, rows: usize, cols: usize, row_major: &[u8]) -> Self {
        Self {
            name: name.to_string(),
            rows,
            cols,
            data: MatData::U8(row_to_column_major(row_major, rows, cols)),
        }
    }
}

/// The 20 course-layout variables of a train and a test split.
pub fn course_variables(train: &Split, test: &Split) -> Vec<MatVar> {
    let mut vars = Vec::new();
    for (prefix, split) in [("train", train), ("test", test)] {
        for digit in 0..NUM_CLASSES as u8 {
            let rows: Vec<u8> = (0..split.len())
                .filter(|&i| split.label(i) == digit)
                .flat_map(|i| split.image(i).iter().copied())
                .collect();
            let n = rows.len() / IMAGE_PIXELS;
            vars.push(MatVar::from_rows(
                &format!("{prefix}{digit}"),
                n,
                IMAGE_PIXELS,
                &rows,
            ));
        }
    }
    vars
}

/// Writes a little-endian MAT v5 file (what MATLAB's `save -v7` writes), each variable as a
/// zlib-compressed element when `compress` is set. Used to cut the test fixtures from the real
/// data and to make damaged files for the loader's tests.
pub fn write_mat(path: &Path, vars: &[MatVar], compress: bool) -> std::io::Result<()> {
    let mut file = Vec::new();
    let mut text = b"MATLAB 5.0 MAT-file, written by mnist-data".to_vec();
    text.resize(116, b' ');
    file.extend_from_slice(&text);
    file.extend_from_slice(&[0u8; 8]);
    file.extend_from_slice(&0x0100u16.to_le_bytes());
    file.extend_from_slice(b"IM");
    for var in vars {
        let element = matrix_element(var);
        if compress {
            let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
            z.write_all(&element)?;
            let z = z.finish()?;
            push_tag(&mut file, MI_COMPRESSED, z.len());
            file.extend_from_slice(&z);
        } else {
            file.extend_from_slice(&element);
        }
    }
    std::fs::write(path, file)
}

fn push_tag(out: &mut Vec<u8>, data_type: u32, len: usize) {
    out.extend_from_slice(&data_type.to_le_bytes());
    out.extend_from_slice(&(len as u32).to_le_bytes());
}

fn push_sub(out: &mut Vec<u8>, data_type: u32, data: &[u8]) {
    push_tag(out, data_type, data.len());
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(8) * 8, 0);
}

fn matrix_element(var: &MatVar) -> Vec<u8> {
    let mut body = Vec::new();
    let class = match var.data {
        MatData::U8(_) => MX_UINT8,
        MatData::F64(_) => MX_DOUBLE,
    };
    let mut flags = (class as u32).to_le_bytes().to_vec();
    flags.extend_from_slice(&0u32.to_le_bytes());
    push_sub(&mut body, MI_UINT32, &flags);
    let dims: Vec<u8> = [var.rows as i32, var.cols as i32]
        .iter()
        .flat_map(|d| d.to_le_bytes())
        .collect();
    push_sub(&mut body, MI_INT32, &dims);
    push_sub(&mut body, MI_INT8, var.name.as_bytes());
    match &var.data {
        MatData::U8(v) => push_sub(&mut body, MI_UINT8, v),
        MatData::F64(v) => {
            let raw: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
            push_sub(&mut body, MI_DOUBLE, &raw)
        }
    }
    let mut element = Vec::with_capacity(body.len() + 8);
    push_tag(&mut element, MI_MATRIX, body.len());
    element.extend_from_slice(&body);
    element
}

/// Writes a split as an IDX image file and an IDX label file, gzipped when the name ends in `.gz`.
pub fn write_idx(images_path: &Path, labels_path: &Path, split: &Split) -> std::io::Result<()> {
    let n = split.len() as u32;
    let mut images = Vec::with_capacity(IMAGES_HEADER + split.images().len());
    for v in [IMAGES_MAGIC, n, IMAGE_SIDE as u32, IMAGE_SIDE as u32] {
        images.extend_from_slice(&v.to_be_bytes());
    }
    images.extend_from_slice(split.images());
    let mut labels = Vec::with_capacity(LABELS_HEADER + split.len());
    for v in [LABELS_MAGIC, n] {
        labels.extend_from_slice(&v.to_be_bytes());
    }
    labels.extend_from_slice(split.labels());
    write_maybe_gz(images_path, &images)?;
    write_maybe_gz(labels_path, &labels)
}

fn write_maybe_gz(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if path.extension().is_some_and(|e| e == "gz") {
        let mut gz = GzEncoder::new(Vec::new(), Compression::best());
        gz.write_all(bytes)?;
        std::fs::write(path, gz.finish()?)
    } else {
        std::fs::write(path, bytes)
    }
}
