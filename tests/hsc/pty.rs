//! The real `hsc` binary in a pseudo-terminal, read through a vt100 parser that also notes what the
//! terminal was asked to do besides drawing (titles, clipboard, bells).

use std::io::{Read, Write};
use std::num::NonZeroU16;
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};

use crate::harness::{Home, TEST_ENCRYPTION_KEY};

pub const ROWS: u16 = 30;
pub const COLS: u16 = 100;

/// What the terminal was asked to do besides drawing.
#[derive(Default)]
pub struct Watcher {
    pub titles: Vec<Vec<u8>>,
    pub clipboard: Vec<Vec<u8>>,
    pub bells: usize,
}

impl vt100::Callbacks for Watcher {
    fn audible_bell(&mut self, _: &mut vt100::Screen) {
        self.bells += 1;
    }
    fn set_window_title(&mut self, _: &mut vt100::Screen, title: &[u8]) {
        self.titles.push(title.to_vec());
    }
    fn set_window_icon_name(&mut self, _: &mut vt100::Screen, name: &[u8]) {
        self.titles.push(name.to_vec());
    }
    fn copy_to_clipboard(&mut self, _: &mut vt100::Screen, _ty: &[u8], data: &[u8]) {
        self.clipboard.push(data.to_vec());
    }
}

pub struct Console {
    pub master: Box<dyn MasterPty + Send>,
    writer: Box<dyn Write + Send>,
    output: Receiver<Vec<u8>>,
    pub parser: vt100::Parser<Watcher>,
    /// Every byte the console wrote.
    pub raw: Vec<u8>,
    pub child: Box<dyn Child + Send + Sync>,
}

impl Console {
    pub fn start(home: &Home, url: &str) -> Console {
        Console::start_with(home, url, &[])
    }

    pub fn start_with(home: &Home, url: &str, extra_env: &[(&str, &str)]) -> Console {
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_hsc"));
        cmd.env_clear();
        for (k, v) in [
            ("PATH", std::env::var("PATH").unwrap_or_default()),
            ("HOME", home.path().display().to_string()),
            ("TERM", "xterm-256color".to_string()),
            ("LANG", "C.UTF-8".to_string()),
            ("HSC_DATA_DIR", home.data_dir().display().to_string()),
            (
                "HSC_CONFIG_DIR",
                home.path().join("config").display().to_string(),
            ),
            ("DATABASE_URL", url.to_string()),
            ("ENCRYPTION_KEY", TEST_ENCRYPTION_KEY.to_string()),
        ] {
            cmd.env(k, v);
        }
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        cmd.cwd(home.path());
        Console::spawn(cmd)
    }

    /// Any program in a fresh pseudo-terminal of ROWS × COLS.
    pub fn spawn(cmd: CommandBuilder) -> Console {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: ROWS,
                cols: COLS,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let child = pair.slave.spawn_command(cmd).unwrap();
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().unwrap();
        let writer = pair.master.take_writer().unwrap();
        let (tx, output) = channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 65536];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if tx.send(buf[..n].to_vec()).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        Console {
            master: pair.master,
            writer,
            output,
            parser: vt100::Parser::new_with_callbacks(
                NonZeroU16::new(ROWS).unwrap(),
                NonZeroU16::new(COLS).unwrap(),
                0,
                Watcher::default(),
            ),
            raw: Vec::new(),
            child,
        }
    }

    /// Resizes the terminal, as a person dragging the window's corner.
    pub fn resize(&mut self, cols: u16, rows: u16) {
        self.master
            .resize(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        self.parser.set_size(
            NonZeroU16::new(rows).unwrap(),
            NonZeroU16::new(cols).unwrap(),
        );
    }

    pub fn pump(&mut self, wait: Duration) {
        if let Ok(bytes) = self.output.recv_timeout(wait) {
            self.parser.process(&bytes);
            self.raw.extend_from_slice(&bytes);
        }
    }

    pub fn screen(&self) -> String {
        self.parser.screen().contents()
    }

    /// Waits until the screen shows `text`; returns the screen.
    #[track_caller]
    pub fn wait_for(&mut self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.screen().contains(text) {
                return self.screen();
            }
            self.pump(Duration::from_millis(100));
        }
        panic!(
            "{text:?} did not appear; the screen shows:\n{}",
            self.screen()
        );
    }

    /// Reads whatever arrives for `wait` (the screen settles).
    pub fn settle(&mut self, wait: Duration) {
        let until = Instant::now() + wait;
        while Instant::now() < until {
            self.pump(Duration::from_millis(50));
        }
    }

    pub fn send(&mut self, text: &str) {
        self.writer.write_all(text.as_bytes()).unwrap();
        self.writer.flush().unwrap();
    }

    /// Sends keys one at a time, as a person types (a burst would arrive as one paste-like read).
    pub fn type_keys(&mut self, text: &str) {
        for c in text.chars() {
            self.send(c.encode_utf8(&mut [0u8; 4]));
            self.pump(Duration::from_millis(5));
        }
    }

    /// Signs in with an email and password from the login screen.
    pub fn sign_in(&mut self, email: &str, password: &str) {
        self.wait_for("Email:");
        self.send(&format!("{email}\t{password}\r"));
    }

    /// Waits for the process to end, still reading its output; returns the exit code.
    pub fn exit_code(&mut self) -> u32 {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            self.pump(Duration::from_millis(50));
            if let Some(status) = self.child.try_wait().unwrap() {
                // Whatever was still in flight.
                for _ in 0..10 {
                    self.pump(Duration::from_millis(20));
                }
                return status.exit_code();
            }
            assert!(
                Instant::now() < deadline,
                "hsc did not exit; the screen shows:\n{}",
                self.screen()
            );
        }
    }

    /// True when the terminal is back in cooked mode (line editing and echo on).
    pub fn cooked(&self) -> bool {
        use nix::sys::termios::{LocalFlags, tcgetattr};
        use std::os::fd::BorrowedFd;
        let fd = self.master.as_raw_fd().unwrap();
        // The master's descriptor stays open for the lifetime of `self`.
        let attrs = tcgetattr(unsafe { BorrowedFd::borrow_raw(fd) }).unwrap();
        attrs
            .local_flags
            .contains(LocalFlags::ICANON | LocalFlags::ECHO)
    }
}
