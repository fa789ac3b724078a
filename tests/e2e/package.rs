//! `make package`'s zips, as Lambda will read them: each holds one executable
//! file named `bootstrap`, an ELF for its architecture (aarch64 for arm64, x86-64
//! for x86_64) that needs no glibc symbol newer than 2.34 (`provided.al2023`'s),
//! and that starts and fails cleanly, in one line, when no Runtime API answers:
//! natively for x86_64, under `qemu-aarch64-static` for arm64.
//!
//! `make test` builds the zips first with the dev profile (`package-check`: the
//! same cargo-zigbuild, glibc pin and zip, minutes quicker than the release
//! profile); by hand the test reads `make package`'s `build/`. The arm64 zip is
//! only expected where the aarch64 standard library is installed (`make
//! test-deps` tries; offline it cannot), as packaging skips it otherwise.

use std::path::{Path, PathBuf};
use std::process::Command;

use sls_load_e2e::third_party::{command, workspace};

/// The zip of `arch`, or `None` where `make package` cannot build it.
fn zip(arch: &str) -> Option<PathBuf> {
    let triple = match arch {
        "arm64" => "aarch64-unknown-linux-gnu",
        _ => "x86_64-unknown-linux-gnu",
    };
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .current_dir(workspace())
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l == triple)
        })
        .unwrap_or(false);
    if !installed {
        eprintln!("note: the {triple} standard library is not installed; no {arch} zip expected");
        return None;
    }
    // `make test` packages with the quicker dev profile into target/package-check
    // (the same toolchain, glibc pin and zip); by hand, `make package`'s build/.
    let dir = std::env::var("SLS_LOAD_PACKAGE_DIR").unwrap_or_else(|_| "build".into());
    let path = workspace()
        .join(dir)
        .join(format!("sls-load-worker-{arch}.zip"));
    assert!(
        path.is_file(),
        "{} is missing: run `make package` (or `make test`)",
        path.display()
    );
    Some(path)
}

/// The zip's entries as `name mode` lines, and `bootstrap` extracted into `dir`.
fn unpack(zip: &Path, dir: &Path) -> (Vec<String>, PathBuf) {
    let script = "import sys,zipfile\n\
        z=zipfile.ZipFile(sys.argv[1])\n\
        [print(i.filename, oct(i.external_attr>>16)) for i in z.infolist()]\n\
        z.extract('bootstrap', sys.argv[2])\n";
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(zip)
        .arg(dir)
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "{}: {}",
        zip.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let entries = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    let bootstrap = dir.join("bootstrap");
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&bootstrap, std::fs::Permissions::from_mode(0o755))
        .expect("chmod bootstrap");
    (entries, bootstrap)
}

/// The ELF header's machine: 0xB7 aarch64, 0x3E x86-64 (a 64-bit little-endian ELF).
fn elf_machine(bin: &Path) -> u16 {
    let bytes = std::fs::read(bin).expect("read bootstrap");
    assert_eq!(&bytes[..4], b"\x7fELF", "not an ELF file");
    assert_eq!((bytes[4], bytes[5]), (2, 1), "a 64-bit little-endian ELF");
    u16::from_le_bytes([bytes[18], bytes[19]])
}

/// The glibc symbol versions `bin` needs (`readelf -V`), as (major, minor).
fn glibc_versions(bin: &Path) -> Vec<(u32, u32)> {
    let out = Command::new("readelf")
        .arg("-V")
        .arg(bin)
        .output()
        .expect("run readelf");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut versions: Vec<(u32, u32)> = text
        .split(|c: char| c.is_whitespace())
        .filter_map(|w| w.strip_prefix("GLIBC_"))
        .filter_map(|v| {
            let mut parts = v.split('.').map(|n| n.parse::<u32>().ok());
            Some((parts.next()??, parts.next().flatten().unwrap_or(0)))
        })
        .collect();
    versions.sort();
    versions.dedup();
    versions
}

/// Starts `bootstrap` (through `runner`, if any) as Lambda would, but with a
/// Runtime API address where nothing listens; returns its exit code and stderr.
fn start_without_runtime_api(runner: Option<&[&str]>, bootstrap: &Path) -> (i32, String) {
    let refused = sls_load_e2e::refused_url();
    let api = refused.trim_start_matches("http://");
    let mut cmd = Command::new("timeout");
    cmd.arg("60");
    if let Some(runner) = runner {
        cmd.args(runner);
    }
    let out = cmd
        .arg(bootstrap)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_FUNCTION_NAME", "sls-load-worker")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1769")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_RUNTIME_API", api)
        .output()
        .expect("start bootstrap");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Checks `arch`'s zip; `runner` runs a foreign-architecture binary.
fn check(arch: &str, machine: u16, runner: Option<&[&str]>) {
    let Some(zip) = zip(arch) else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let (entries, bootstrap) = unpack(&zip, dir.path());
    assert_eq!(
        entries,
        ["bootstrap 0o100755"],
        "{}: one executable file named bootstrap",
        zip.display()
    );
    assert_eq!(elf_machine(&bootstrap), machine, "{arch}: ELF machine");
    let versions = glibc_versions(&bootstrap);
    assert!(!versions.is_empty(), "{arch}: a glibc-linked binary");
    let newest = versions.last().copied().unwrap_or_default();
    assert!(
        newest <= (2, 34),
        "{arch}: needs GLIBC_{}.{}, newer than provided.al2023's 2.34",
        newest.0,
        newest.1
    );
    let (code, stderr) = start_without_runtime_api(runner, &bootstrap);
    assert_eq!(code, 1, "{arch}: exit code; stderr: {stderr}");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("bootstrap:"))
        .collect();
    assert_eq!(lines.len(), 1, "{arch}: one line of its own: {stderr}");
    assert!(
        lines[0].starts_with("bootstrap: runtime stopped: "),
        "{arch}: {stderr}"
    );
}

#[test]
fn the_x86_64_zip_holds_a_bootstrap_for_provided_al2023_that_starts() {
    check("x86_64", 0x3E, None);
}

#[test]
fn the_arm64_zip_holds_a_bootstrap_for_provided_al2023_that_starts_under_qemu() {
    if zip("arm64").is_none() {
        return;
    }
    let qemu = command("qemu-aarch64-static", "qemu-user-static");
    let qemu = qemu.to_str().expect("utf-8 path");
    check("arm64", 0xB7, Some(&[qemu, "-L", "/usr/aarch64-linux-gnu"]));
}
