//! Whether `tests/browser.rs` can run: the test is compiled as ignored (`cfg(has_browser)`
//! unset) unless Chromium and ChromeDriver exist, at `MNIST_CHROMIUM` and `MNIST_CHROMEDRIVER`
//! (default: Debian's `/usr/bin/chromium` and `/usr/bin/chromedriver`). With
//! `MNIST_REQUIRE_BROWSER` set (CI sets it) the test is never ignored: a missing browser then
//! fails it. The paths used are passed on as `MNIST_CHROMIUM` and `MNIST_CHROMEDRIVER` (`env!`).
//!
//! Detected when this script runs: again whenever one of the three variables changes, a file
//! found is replaced or removed, or (for the default paths) `/usr/bin` changes.

use std::path::Path;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=MNIST_REQUIRE_BROWSER");
    println!("cargo::rustc-check-cfg=cfg(has_browser)");
    let mut found = true;
    for (var, default) in [
        ("MNIST_CHROMIUM", "/usr/bin/chromium"),
        ("MNIST_CHROMEDRIVER", "/usr/bin/chromedriver"),
    ] {
        println!("cargo::rerun-if-env-changed={var}");
        let path = std::env::var(var).unwrap_or_else(|_| default.to_string());
        println!("cargo::rustc-env={var}={path}");
        if Path::new(&path).exists() {
            println!("cargo::rerun-if-changed={path}");
        } else {
            found = false;
            // An installation adds the file to /usr/bin, which changes the folder. (A folder
            // the user names is not watched: cargo would scan all of it on every build.)
            if path == default {
                println!("cargo::rerun-if-changed=/usr/bin");
            }
        }
    }
    if found || std::env::var_os("MNIST_REQUIRE_BROWSER").is_some() {
        println!("cargo::rustc-cfg=has_browser");
    }
}
