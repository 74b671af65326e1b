//! Cuts the small real fixtures the tests use out of the full data sets.
//!
//! cargo run --release -p mnist-data --example make_fixtures -- \
//!     data/mnist_all.mat ../shared/data/mnist /usr/share/datasets/fashion-mnist tests/fixtures
//!
//! Writes, into the output folder:
//! - `mnist-idx/`: the first 200 training and first 100 test images of the IDX files, gzipped;
//! - `mnist-mini.mat`: the same 300 images in the course layout, taken from the `.mat` file
//!   (train{d} holds the first images of digit d in IDX order, so these are the same images);
//! - `fashion-idx/`: the first 100 training and 50 test images of Fashion-MNIST.

use std::path::{Path, PathBuf};

use mnist_data::{Split, idx, mat, testing};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [mat_path, mnist_dir, fashion_dir, out] = args.as_slice() else {
        return Err(
            "usage: make_fixtures MNIST_ALL.mat MNIST_IDX_DIR FASHION_IDX_DIR OUT_DIR".into(),
        );
    };
    let (idx_train, idx_test) = idx::load(mnist_dir)?;
    let (idx_train, idx_test) = (idx_train.select(0..200), idx_test.select(0..100));
    write_idx(&out.join("mnist-idx"), &idx_train, &idx_test)?;

    let (mat_train, mat_test) = mat::load(mat_path)?;
    let cut = |full: &Split, like: &Split| {
        // The first `count[d]` images of each digit, in the .mat file's digit-major order.
        let mut indices = Vec::new();
        for (digit, &count) in like.class_counts().iter().enumerate() {
            let first = (0..full.len()).filter(|&i| full.label(i) as usize == digit);
            indices.extend(first.take(count));
        }
        full.select(indices)
    };
    let vars = testing::course_variables(&cut(&mat_train, &idx_train), &cut(&mat_test, &idx_test));
    testing::write_mat(&out.join("mnist-mini.mat"), &vars, true)?;

    let (f_train, f_test) = idx::load(fashion_dir)?;
    write_idx(
        &out.join("fashion-idx"),
        &f_train.select(0..100),
        &f_test.select(0..50),
    )?;
    println!("fixtures written to {}", out.display());
    Ok(())
}

fn write_idx(dir: &Path, train: &Split, test: &Split) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let gz = |stem: &str| dir.join(format!("{stem}.gz"));
    testing::write_idx(&gz(idx::TRAIN_FILES.0), &gz(idx::TRAIN_FILES.1), train)?;
    testing::write_idx(&gz(idx::TEST_FILES.0), &gz(idx::TEST_FILES.1), test)
}
