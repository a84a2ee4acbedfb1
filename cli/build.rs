//! Build script of the `kfl` crate: tells the test-bed tests (tests/cluster_apply.rs) whether Go, which builds the test bed, is installed.
//!
//! Where it is not, those tests are compiled as ignored with the reason as their ignore message, so
//! `cargo test` prints `ignored, SKIPPED: …` on the test's own line and counts it in the summary,
//! without `--nocapture`; the build also warns. Where Go is installed the tests run and any failure of
//! the test bed fails them. The answer is recomputed when PATH changes (a Go installed later).

use std::process::Command;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=PATH");
    println!("cargo::rustc-check-cfg=cfg(kfl_testbed_without_go)");
    let go = Command::new("go").arg("version").output().is_ok_and(|output| output.status.success());
    if !go {
        println!("cargo::rustc-cfg=kfl_testbed_without_go");
        println!(
            "cargo::warning=Go is not installed: the test-bed tests (kfl apply/diff/status against a real API server, \
             tests/cluster_apply.rs) are compiled as ignored and check nothing"
        );
    }
}
