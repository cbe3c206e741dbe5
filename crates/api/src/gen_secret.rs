//! `upcheck-api gen-secret --out PATH [--format hex|base64]`: writes a random secret to `PATH`
//! once, so a container stack can give the API a per-installation JWT secret through
//! `JWT_SECRET_FILE` (hex) and every component its `SECRETS_KEY_FILE` (base64) without
//! anyone choosing one.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// What [`write_secret_file`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretFile {
    /// The file did not exist; it now holds a new secret.
    Created,
    /// The file existed and was left as it was.
    Kept,
}

/// How [`write_secret_file`] writes the secret's 32 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// 64 lower-case hex digits (`JWT_SECRET_FILE`).
    Hex,
    /// Standard base64 (`SECRETS_KEY_FILE`).
    Base64,
}

/// A new secret: 32 bytes from the thread's CSPRNG (ChaCha, seeded by the OS), as 64
/// lower-case hex digits.
pub fn random_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new secret in `format`.
pub fn random_in(format: Format) -> String {
    match format {
        Format::Hex => random_secret(),
        Format::Base64 => upcheck_secrets::generate_key(),
    }
}

/// Writes a new secret ([`random_in`] `format`) and a newline to `path`, mode 0600 and owned by the running user,
/// unless `path` already exists, which is then left untouched (a later run must not change
/// the secret and so sign every user out). The secret is written to a temporary file beside
/// `path` and hard-linked into place, so a crash or a concurrent run never leaves a partly
/// written secret behind. A missing parent directory is created with mode 0700.
///
/// # Errors
/// The I/O error, e.g. when the directory is not writable by this user.
pub fn write_secret_file(path: &Path, format: Format) -> std::io::Result<SecretFile> {
    if std::fs::symlink_metadata(path).is_ok() {
        return Ok(SecretFile::Kept);
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.exists() {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    }
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("secret");
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = write_new(&tmp, format).and_then(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    match written {
        Ok(()) => Ok(SecretFile::Created),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(SecretFile::Kept),
        Err(e) => Err(e),
    }
}

fn write_new(tmp: &Path, format: Format) -> std::io::Result<()> {
    let _ = std::fs::remove_file(tmp);
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(tmp)?;
    // The mode given to open is reduced by the umask; 0600 is what is wanted whatever it is.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(format!("{}\n", random_in(format)).as_bytes())?;
    file.sync_all()
}

/// The `gen-secret --out PATH` subcommand: writes the secret to `path` unless it exists.
/// Prints what it did on stderr (never the secret) and returns the exit status: 0 when the
/// file exists afterwards, 1 on an I/O error. (Bad usage, exit 2, is clap's.)
pub fn run(path: &Path, format: Format) -> std::process::ExitCode {
    let shown = path.display();
    match write_secret_file(path, format) {
        Ok(SecretFile::Created) => {
            eprintln!("upcheck-api gen-secret: wrote a new random secret to {shown}");
            std::process::ExitCode::SUCCESS
        }
        Ok(SecretFile::Kept) => {
            eprintln!("upcheck-api gen-secret: {shown} exists; kept it");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("upcheck-api gen-secret: {shown}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
