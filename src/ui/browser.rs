//! Opening a URL in the user's browser, when there is a graphical session to open it in.

/// Open `url` in the default browser; `false` when there is no graphical session (SSH, no display)
/// or the opener failed, so the caller prints the URL instead.
pub fn open(url: &str) -> bool {
    let graphical = cfg!(target_os = "macos")
        || cfg!(windows)
        || std::env::var_os("DISPLAY").is_some()
        || std::env::var_os("WAYLAND_DISPLAY").is_some();
    if !graphical || std::env::var_os("SSH_CONNECTION").is_some() {
        return false;
    }
    let mut cmd = if cfg!(target_os = "macos") {
        std::process::Command::new("open")
    } else if cfg!(windows) {
        let mut c = std::process::Command::new("cmd");
        c.args(["/C", "start", ""]);
        c
    } else {
        std::process::Command::new("xdg-open")
    };
    cmd.arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
