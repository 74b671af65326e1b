//! Damaged inputs for tests: every kind of bad data file a user might pass, built from the real
//! fixtures, with the cause its error message must state. Shared by the loader's tests and the
//! command line's tests, so both check the same cases.

use std::path::{Path, PathBuf};

mod write;

pub use write::{MatData, MatVar, course_variables, row_to_column_major, write_idx, write_mat};

use crate::idx;

/// The repository's test fixtures (`tests/fixtures`): 300 real MNIST images as IDX and `.mat`,
/// 150 Fashion-MNIST images.
pub fn fixtures_dir() -> PathBuf {
    crate::repo_root().join("tests/fixtures")
}

/// The MNIST fixture as an IDX folder (200 training and 100 test images).
pub fn mnist_idx() -> PathBuf {
    fixtures_dir().join("mnist-idx")
}

/// One bad input: pass `path` to the loader; the error must name `file` and contain `cause`.
pub struct BadInput {
    pub name: &'static str,
    pub path: PathBuf,
    pub file: PathBuf,
    pub cause: &'static str,
}

/// Builds every bad input under `dir` from the fixtures in `fixtures` (`tests/fixtures`).
pub fn bad_inputs(dir: &Path, fixtures: &Path) -> Vec<BadInput> {
    let mini = fixtures.join("mnist-mini.mat");
    let real = crate::load(Some(&mini)).expect("fixture loads");
    let vars = || course_variables(&real.train, &real.test);
    let mut out = Vec::new();
    let mut file = |name: &'static str, bytes: &[u8], cause: &'static str| {
        let path = dir.join(format!("{name}.mat"));
        std::fs::write(&path, bytes).expect("write test file");
        out.push(BadInput {
            name,
            path: path.clone(),
            file: path,
            cause,
        });
    };
    file("empty", b"", "file is empty");
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    file("garbage", &garbage, "not a MAT v5 file");
    file("v73", &mat_v73_header(), "save -v7");
    let full = std::fs::read(&mini).expect("read fixture");
    file("truncated", &full[..full.len() * 2 / 3], "truncated");
    let mut flipped = full.clone();
    flipped[300..340].iter_mut().for_each(|b| *b ^= 0x5a);
    file("corrupt", &flipped, "corrupt");
    // One file of an IDX set where its folder belongs.
    let one = fixtures
        .join("mnist-idx")
        .join(format!("{}.gz", idx::TRAIN_FILES.0));
    out.push(BadInput {
        name: "idx-file",
        path: one.clone(),
        file: one,
        cause: "pass the folder that holds all four",
    });

    let mut write_vars = |name: &'static str, vars: Vec<MatVar>, cause: &'static str| {
        let path = dir.join(format!("{name}.mat"));
        write_mat(&path, &vars, true).expect("write test file");
        out.push(BadInput {
            name,
            path: path.clone(),
            file: path,
            cause,
        });
    };
    let no_test7 = vars().into_iter().filter(|v| v.name != "test7").collect();
    write_vars("missing", no_test7, "missing variable `test7`");
    let mut double = vars();
    if let MatData::U8(d) = &double[3].data {
        double[3].data = MatData::F64(d.iter().map(|&p| p as f64).collect());
    }
    write_vars("double", double, "variable `train3` has class double");
    let mut narrow = vars();
    let v = &mut narrow[12]; // test2
    if let MatData::U8(d) = &v.data {
        v.data = MatData::U8(d[..v.rows * 783].to_vec());
        v.cols = 783;
    }
    write_vars("783-columns", narrow, "variable `test2` has shape");

    let mut idx_case =
        |name: &'static str, file: &str, edit: &dyn Fn(&mut Vec<u8>), cause: &'static str| {
            let folder = dir.join(name);
            let target = idx_copy(&folder, &fixtures.join("mnist-idx"), file, edit);
            out.push(BadInput {
                name,
                path: folder,
                file: target,
                cause,
            });
        };
    idx_case(
        "idx-magic",
        idx::TRAIN_FILES.0,
        &|b| b[3] = 0x01,
        "magic number 2049, expected 2051",
    );
    idx_case(
        "idx-count",
        idx::TEST_FILES.1,
        // 99 labels for 100 images: header and length agree with each other, not with the images.
        &|b| {
            b[7] = 99;
            b.pop();
        },
        "holds 99 labels but",
    );
    idx_case(
        "idx-label-12",
        idx::TRAIN_FILES.1,
        &|b| b[8 + 17] = 12,
        "label #17 is 12, expected 0..=9",
    );
    idx_case(
        "idx-short",
        idx::TEST_FILES.0,
        &|b| b.truncate(b.len() - 10),
        "truncated",
    );
    idx_case(
        "idx-long",
        idx::TEST_FILES.0,
        &|b| b.push(0),
        "trailing bytes",
    );
    // A header claiming ~4·10⁹ images must be checked against the file, not allocated.
    idx_case(
        "idx-huge",
        idx::TRAIN_FILES.0,
        &|b| b[4..8].copy_from_slice(&[0xff; 4]),
        "its header implies",
    );
    idx_case(
        "idx-32-rows",
        idx::TRAIN_FILES.0,
        &|b| b[11] = 32,
        "images are 32×28, expected 28×28",
    );
    out
}

/// The first 2 KiB of what MATLAB writes for `save -v7.3`: a MAT-style text header with
/// version 0x0200, then HDF5's signature at byte 512.
pub fn mat_v73_header() -> Vec<u8> {
    let mut bytes =
        b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 ."
            .to_vec();
    bytes.resize(124, b' ');
    bytes.extend_from_slice(&0x0200u16.to_le_bytes());
    bytes.extend_from_slice(b"IM");
    bytes.resize(512, 0);
    bytes.extend_from_slice(b"\x89HDF\r\n\x1a\n");
    bytes.resize(2048, 0);
    bytes
}

/// Copies an IDX folder uncompressed into `out`, then applies `edit` to one file's bytes;
/// returns that file's path.
pub fn idx_copy(out: &Path, from: &Path, file: &str, edit: &dyn Fn(&mut Vec<u8>)) -> PathBuf {
    let (train, test) = idx::load(from).expect("fixture loads");
    std::fs::create_dir_all(out).expect("create dir");
    write_idx(
        &out.join(idx::TRAIN_FILES.0),
        &out.join(idx::TRAIN_FILES.1),
        &train,
    )
    .expect("write");
    write_idx(
        &out.join(idx::TEST_FILES.0),
        &out.join(idx::TEST_FILES.1),
        &test,
    )
    .expect("write");
    let target = out.join(file);
    let mut bytes = std::fs::read(&target).expect("read");
    edit(&mut bytes);
    std::fs::write(&target, bytes).expect("write");
    target
}
