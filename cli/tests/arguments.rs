//! The command line refuses bad arguments with a clear message before touching any input.
//!
//! These tests also make `cargo test --workspace` build the `trailrelay` binary, which the
//! end-to-end suite in `tests/` runs.

#![allow(clippy::expect_used)] // Test code: a failed expect is a failed test.

use std::process::Command;

fn trailrelay(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_trailrelay"))
        .args(args)
        .output()
        .expect("run trailrelay");
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn bad_template_names_the_option_and_the_placeholder() {
    let (code, text) = trailrelay(&["forward", ".", "--log-stream", "{account}_x"]);
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("--log-group/--log-stream") && text.contains("{account}"),
        "{text}"
    );
}

#[test]
fn bad_size_names_the_value() {
    let (code, text) = trailrelay(&["forward", ".", "--max-object-bytes", "lots"]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("\"lots\" is not a size"), "{text}");
}

#[test]
fn missing_input_names_the_path() {
    let (code, text) = trailrelay(&["forward", "/definitely/not/here"]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("/definitely/not/here"), "{text}");
}

#[test]
fn forward_requires_an_input() {
    let (code, text) = trailrelay(&["forward"]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("<INPUT>"), "{text}");
}
