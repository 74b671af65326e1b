//! The `mnist` binary as a user runs it: output on good data, one-line errors on bad data.

use std::path::{Path, PathBuf};

use mnist_trainer::testing::{TestConfig, fixtures_dir as fixtures};

mod common;
use common::{mnist, repo};

/// The numbers of the table row that starts with `split`.
fn row(stdout: &str, split: &str) -> Vec<f64> {
    let line = stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(split))
        .unwrap_or_else(|| panic!("no `{split}` row in:\n{stdout}"));
    line.split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap())
        .collect()
}

#[test]
fn data_info_on_the_committed_file() {
    let out = mnist(&["data", "info"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("(verified)"), "{stdout}");
    // MNIST's published split sizes and the course file's per-digit counts (train0 = 5923 ...).
    let train = row(&stdout, "train");
    let test = row(&stdout, "test");
    assert_eq!(train[0], 60000.0);
    assert_eq!(test[0], 10000.0);
    assert_eq!(train[1..11].iter().sum::<f64>(), 60000.0);
    assert_eq!(train[1], 5923.0);
    assert_eq!(test[10], 1009.0);
    // min, max, mean of the pixels
    assert_eq!((train[11], train[12]), (0.0, 255.0));
    assert!((30.0..40.0).contains(&train[13]), "{stdout}");
    assert!(stdout.contains("load time"), "{stdout}");
    assert!(stdout.contains("peak RSS"), "{stdout}");
}

#[test]
fn data_info_on_an_idx_folder() {
    let dir = fixtures().join("fashion-idx");
    let out = mnist(&["data", "info", "--data", dir.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert_eq!(row(&stdout, "train")[0], 100.0);
    assert_eq!(row(&stdout, "test")[0], 50.0);
    assert!(stdout.contains("IDX folder"), "{stdout}");
}

#[test]
fn bad_inputs_exit_nonzero_with_one_line_and_no_panic() {
    let dir = tempfile::tempdir().unwrap();
    for case in mnist_data::testing::bad_inputs(dir.path(), &fixtures()) {
        let out = mnist(&["data", "info", "--data", case.path.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{}: {stderr}", case.name);
        assert!(out.stdout.is_empty(), "{}: printed to stdout", case.name);
        assert_eq!(stderr.lines().count(), 1, "{}: {stderr}", case.name);
        assert!(stderr.starts_with("error: "), "{}: {stderr}", case.name);
        assert!(
            stderr.contains(case.file.to_str().unwrap()),
            "{}: {stderr}",
            case.name
        );
        assert!(stderr.contains(case.cause), "{}: {stderr}", case.name);
        assert!(
            !stderr.contains("panicked") && !stderr.contains("backtrace"),
            "{stderr}"
        );
    }
}

#[test]
fn help_explains_the_commands() {
    let out = mnist(&["--help"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(stdout.contains("data"), "{stdout}");
    let out = mnist(&["data", "info", "--help"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("--data"), "{stdout}");
}

/// A run config training a small MLP on the fixture images, runs going to `dir/runs`.
fn tiny_config(dir: &Path) -> PathBuf {
    TestConfig::mlp(32)
        .batch_size(25)
        .artifacts(&dir.join("runs"))
        .write(&dir.join("tiny.toml"))
}

#[test]
fn piped_training_prints_one_plain_line_per_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let config = tiny_config(dir.path());
    let out = mnist(&["train", config.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !stdout.contains('\x1b') && !stdout.contains('\r'),
        "escape codes in {stdout:?}"
    );
    assert!(stdout.contains("backend    "), "{stdout}");
    let epoch_lines: Vec<&str> = stdout
        .lines()
        .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    assert_eq!(epoch_lines.len(), 2, "{stdout}");
    assert!(epoch_lines[0].trim_start().starts_with("1/2"), "{stdout}");
    // Fixed width: both lines align with the header.
    let header = stdout.lines().find(|l| l.starts_with("epoch ")).unwrap();
    assert!(
        epoch_lines.iter().all(|l| l.len() == header.len()),
        "{stdout}"
    );

    // The run exists now: a second start is refused without --force, and nothing is touched.
    let run = dir.path().join("runs/tiny");
    let model_before = std::fs::read(run.join("model.bpk")).unwrap();
    let again = mnist(&["train", config.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr.contains("already exists") && stderr.contains("--force"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(run.join("model.bpk")).unwrap(), model_before);
    // --force starts over.
    let forced = mnist(&["train", config.to_str().unwrap(), "--force"]);
    assert!(forced.status.success());

    // eval of the finished run prints the last validation accuracy.
    let last_valid = epoch_lines[1].split_whitespace().nth(4).unwrap();
    let out = mnist(&["eval", run.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains(&format!("accuracy   {last_valid}")),
        "{last_valid} vs {stdout}"
    );

    // predict: a good image is predicted, a bad one reported, and the exit code says so.
    let good = dir.path().join("digit.png");
    let m = mnist_data::load(Some(&fixtures().join("mnist-idx"))).unwrap();
    image::GrayImage::from_raw(28, 28, m.test.image(0).to_vec())
        .unwrap()
        .save(&good)
        .unwrap();
    let bad = dir.path().join("bad.png");
    std::fs::write(&bad, "not a png").unwrap();
    let (run_s, good_s, bad_s) = (
        run.to_str().unwrap(),
        good.to_str().unwrap(),
        bad.to_str().unwrap(),
    );
    let out = mnist(&["predict", run_s, good_s, bad_s]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        stdout.starts_with(&format!("{good_s}: ")) && stdout.matches('%').count() == 3,
        "{stdout}"
    );
    assert!(
        stderr.contains(bad_s) && stderr.contains("not an image"),
        "{stderr}"
    );
    let out = mnist(&["predict", run_s, good_s, "--json", "--raw"]);
    assert!(out.status.success());
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(line["top"].as_array().unwrap().len(), 3);
    assert_eq!(line["file"], good_s);
    assert!(
        line.get("explanation").is_none(),
        "explained unasked: {line}"
    );

    // --explain: the figures beside the prepared image, the numbers in the JSON.
    let seen = dir.path().join("seen");
    let seen_s = seen.to_str().unwrap();
    let args = ["predict", run_s, good_s, "--json", "--raw", "--explain"];
    let out = mnist(&[&args[..], &["--save-prepared", seen_s]].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let explanation = &line["explanation"];
    assert_eq!(explanation["model"], "mlp", "{line}");
    assert_eq!(explanation["saliency"].as_array().unwrap().len(), 784);
    assert_eq!(explanation["units"].as_array().unwrap().len(), 8);
    for figure in ["28x28", "saliency", "units", "runner-up-units"] {
        let png = seen.join(format!("digit.{figure}.png"));
        let img = image::open(&png).unwrap_or_else(|e| panic!("{}: {e}", png.display()));
        assert!(img.width() > 200 && img.height() > 100 || figure == "28x28");
    }
    // Without a folder for the figures, clap says which flag is missing.
    let out = mnist(&args);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--save-prepared"), "{stderr}");
}

#[test]
fn config_errors_name_the_key_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("batch_size = 0\n", "batch_size must be at least 1"),
        ("epochs = 0\n", "epochs must be at least 1"),
        ("batchsize = 50\n", "unknown field `batchsize`"),
        ("seed = \"forty-two\"\n", "key `seed`"),
    ];
    for (extra, cause) in cases {
        // `extra` is prepended, so a duplicate of batch_size/epochs replaces the valid one.
        let config = tiny_config(dir.path());
        let text = std::fs::read_to_string(&config).unwrap();
        let key = extra.split('=').next().unwrap().trim();
        let text: String = text
            .lines()
            .filter(|l| !l.starts_with(&format!("{key} ")))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(&config, format!("{extra}{text}")).unwrap();
        check_config_error(&config, cause);
    }
    for (from, to, cause) in [
        (
            "lr = 0.005",
            "lr = 0.0",
            "optimizer.lr must be a positive number",
        ),
        (
            "lr = 0.005",
            "lr = -1.0",
            "optimizer.lr must be a positive number",
        ),
        (
            "hidden = 32",
            "hidden = 0",
            "model.hidden must be at least 1",
        ),
        ("kind = \"mlp\"", "kind = \"rnn\"", "key `model.kind`"),
        (
            "hidden = 32",
            "hidden = 32\nwidth = 3",
            "key `model.width`: unknown field `width`",
        ),
    ] {
        let config = tiny_config(dir.path());
        let text = std::fs::read_to_string(&config).unwrap().replace(from, to);
        std::fs::write(&config, text).unwrap();
        check_config_error(&config, cause);
    }
    assert!(
        !dir.path().join("runs").exists(),
        "a bad config created a run directory"
    );
}

#[test]
fn cnn_config_errors_name_the_line_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let shipped = std::fs::read_to_string(repo().join("configs/cnn.toml")).unwrap();
    // (the text of the shipped config's `nth` line that is `from`, replaced by `to`; the cause)
    let cases = [
        (
            "channels = 32",
            1,
            "chanels = 32",
            "unknown field `chanels`",
        ),
        (
            "dropout = 0.25",
            1,
            "dropout = -0.25",
            "model.conv[2].dropout must be in [0, 1)",
        ),
        (
            "kernel = 3",
            2,
            "kernel = 30",
            "model.conv[2].kernel = 30 is larger than the 26×26 input of that block",
        ),
        (
            "pool = { kind = \"max\", size = 2 }",
            1,
            "pool = { kind = \"max\", size = 0 }",
            "model.conv[2].pool.size must be at least 1",
        ),
        (
            "units = 128",
            1,
            "units = 0",
            "model.dense[1].units must be at least 1",
        ),
        (
            "normalize = { mean = 0.1307, std = 0.3081 }",
            1,
            "normalize = { mean = 0.1307, std = -1 }",
            "model.normalize needs a finite mean and a positive std",
        ),
    ];
    check_edited_configs(&shipped, &dir.path().join("cnn.toml"), &cases);
    assert!(!dir.path().join("runs").exists());
}

/// For each (the `nth` line of `text` that starts with `from`, replaced by `to`; the cause): the
/// config written to `config` is refused in one line naming the cause and the line of the key.
fn check_edited_configs(text: &str, config: &Path, cases: &[(&str, usize, &str, &str)]) {
    for &(from, nth, to, cause) in cases {
        let (edited, line_no) = replace_line(text, from, nth, to);
        // The line the error names: the changed line, or the new key's where `to` adds one.
        let key_line = line_no + to.matches('\n').count();
        std::fs::write(config, edited).unwrap();
        check_config_error(config, cause);
        check_config_error(config, &format!("line {key_line}"));
    }
}

/// `text` with the `nth` line that starts with `from` (after indentation) changed to start with
/// `to`, and that line's number.
fn replace_line(text: &str, from: &str, nth: usize, to: &str) -> (String, usize) {
    let mut seen = 0;
    let mut line_no = 0;
    let text = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            let hit = l.trim_start().starts_with(from) && {
                seen += 1;
                seen == nth
            };
            if hit {
                line_no = i + 1;
                format!("{}\n", l.replacen(from, to, 1))
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    assert!(line_no > 0, "{from} is not in the config");
    (text, line_no)
}

#[test]
fn schedule_and_optimizer_errors_name_the_line_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    // The course MLP without Adam's own keys (so that SGD can take its place), scheduled.
    let mlp = std::fs::read_to_string(repo().join("configs/mlp.toml")).unwrap();
    let scheduled = mlp
        .lines()
        .filter(|l| {
            !["beta1", "beta2", "epsilon"]
                .iter()
                .any(|k| l.starts_with(k))
        })
        .map(|l| format!("{l}\n"))
        .collect::<String>()
        + "\n[scheduler]\nkind = \"cosine\"\nwarmup_epochs = 1\nmin_lr = 0\n";
    // (the line that starts with `from`, its nth, replaced by `to`; the cause)
    let cases = [
        (
            "kind = \"cosine\"",
            1,
            "kind = \"cosin\"",
            "unknown variant `cosin`",
        ),
        (
            "min_lr = 0",
            1,
            "min_rl = 0",
            "key `scheduler.min_rl`: unknown field `min_rl`",
        ),
        (
            "warmup_epochs = 1",
            1,
            "warmup_epochs = 6",
            "scheduler.warmup_epochs must be in [0, epochs = 6), got 6",
        ),
        (
            "min_lr = 0",
            1,
            "min_lr = 0.5",
            "scheduler.min_lr must be in [0, optimizer.lr = 0.001]",
        ),
        (
            "lr = 1e-3",
            1,
            "lr = 1e-3\nnesterov = true",
            "unknown field `nesterov`",
        ),
        (
            "kind = \"adam\"",
            1,
            "kind = \"sgd\"\nmomentum = 0\nnesterov = true",
            "optimizer.nesterov needs momentum",
        ),
        (
            "kind = \"adam\"",
            1,
            "kind = \"adamw\"\nweight_decay = -0.1",
            "optimizer.weight_decay must be 0 or more",
        ),
    ];
    check_edited_configs(&scheduled, &dir.path().join("scheduled.toml"), &cases);
    assert!(!dir.path().join("runs").exists());
}

#[test]
fn holdout_augment_and_early_stopping_errors_name_the_line_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    // configs/mlp-augment.toml as shipped, its data path made absolute so that the check
    // against the data (a hold-out larger than the training set) can run from a temporary
    // folder.
    let shipped = std::fs::read_to_string(repo().join("configs/mlp-augment.toml")).unwrap();
    let data = repo().join("data/mnist_all.mat");
    let (text, _) = replace_line(
        &shipped,
        "data = ",
        1,
        &format!("data = {:?} #", data.to_str().unwrap()),
    );
    let cases = [
        (
            "validation = ",
            1,
            "validation = \"tset\" #",
            "validation = \"tset\": expected \"test\" or { holdout = N }",
        ),
        (
            "validation = ",
            1,
            "validation = { holdout = 0 } #",
            "validation.holdout must be at least 1",
        ),
        (
            "validation = ",
            1,
            "validation = { holdout = 60000 } #",
            "validation.holdout = 60000 leaves nothing to train on",
        ),
        (
            "rotation = 8.0",
            1,
            "rotation = -8.0",
            "augment.rotation = -8 must be in [0, 180]",
        ),
        (
            "shift = 2.0",
            1,
            "shift = 20.0",
            "augment.shift = 20 must be in [0, 14)",
        ),
        (
            "shear = 5.0",
            1,
            "sheer = 5.0",
            "key `augment.sheer`: unknown field `sheer`",
        ),
        (
            "patience = 5",
            1,
            "patience = 0",
            "early_stopping.patience must be at least 1",
        ),
        (
            "patience = 5",
            1,
            "patience = 5\nmin_delta = -1",
            "early_stopping.min_delta must be 0 or more",
        ),
        (
            "metric = ",
            1,
            "metric = \"val_loss\" #",
            "unknown variant `val_loss`",
        ),
    ];
    check_edited_configs(&text, &dir.path().join("mlp-augment.toml"), &cases);
    assert!(!dir.path().join("artifacts").exists());
}

fn check_config_error(config: &Path, cause: &str) {
    let out = mnist(&["train", config.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{cause}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains(config.to_str().unwrap()), "{stderr}");
    assert!(stderr.contains(cause), "expected {cause:?} in {stderr}");
    assert!(
        out.stdout.is_empty(),
        "work started: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn compare_writes_one_page_with_its_figures_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    for (name, config) in [("lin", TestConfig::scratch()), ("mlp", TestConfig::mlp(32))] {
        let file = config
            .artifacts(&runs)
            .write(&dir.path().join(format!("{name}.toml")));
        let out = mnist(&["train", file.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let page = dir.path().join("out/cmp.html");
    let (lin, mlp) = (runs.join("lin"), runs.join("mlp"));
    let args = [
        "compare",
        lin.to_str().unwrap(),
        mlp.to_str().unwrap(),
        "--out",
        page.to_str().unwrap(),
    ];
    let out = mnist(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(&page).unwrap();
    let srcs: Vec<&str> = html
        .split("src=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap())
        .collect();
    assert_eq!(srcs.len(), 5, "{srcs:?}"); // epochs, NLL, disagreements, two confusion matrices
    for src in srcs {
        assert!(
            page.parent().unwrap().join(src).is_file(),
            "{src} is missing"
        );
    }
    assert!(html.contains("lin") && html.contains("mlp") && !html.contains("http"));
    // One run is not a comparison.
    let out = mnist(&["compare", lin.to_str().unwrap()]);
    assert!(!out.status.success());
}

#[test]
fn serve_says_where_it_listens_and_warns_off_loopback() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mnist"))
        .args([
            "serve",
            "--artifacts",
            dir.path().to_str().unwrap(),
            "--addr",
            "0.0.0.0:0",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (mut line, mut open) = (String::new(), String::new());
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    stdout.read_line(&mut line).unwrap();
    stdout.read_line(&mut open).unwrap();
    child.kill().unwrap();
    // The address to open carries the token: 48 hex digits (192 random bits).
    let token = open
        .split("?token=")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .unwrap_or_else(|| panic!("no token in {open:?}"));
    assert!(
        open.starts_with("open") && open.contains("http://localhost:"),
        "{open}"
    );
    assert_eq!(token.len(), 48, "{open}");
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()), "{open}");
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        line.starts_with("serving") && line.contains("http://0.0.0.0:"),
        "{line}"
    );
    assert!(
        stderr.contains("warning") && stderr.contains("not on loopback"),
        "{stderr}"
    );
    // A folder that does not exist is refused before listening.
    let missing = dir.path().join("nothing");
    let out = mnist(&[
        "serve",
        "--artifacts",
        missing.to_str().unwrap(),
        "--addr",
        "127.0.0.1:0",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("nothing") && stderr.contains("--artifacts"),
        "{stderr}"
    );
}
