//! Output lines. `println!` panics when stdout is a pipe whose reader has gone (e.g.
//! `privlink-bench summary FILE | head`); `out!` ends the program quietly instead, as a
//! command-line tool killed by SIGPIPE would. `err!` writes to stderr and ignores failures.

use std::io::Write;

/// Write one line to stdout; exit quietly (status 0) if the reader has gone.
pub fn line(args: std::fmt::Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    let written = stdout.write_fmt(args).and_then(|()| stdout.write_all(b"\n")).and_then(|()| stdout.flush());
    if let Err(e) = written {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        let _ = writeln!(std::io::stderr(), "privlink-bench: writing to stdout failed: {e}");
        std::process::exit(1);
    }
}

/// Write one line to stderr; a failure to write is ignored.
pub fn err_line(args: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr().lock(), "{args}");
}

/// `println!` that does not panic on a broken pipe.
macro_rules! out {
    () => {
        $crate::out::line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::out::line(format_args!($($arg)*))
    };
}

/// `eprintln!` that does not panic when stderr is closed.
macro_rules! err {
    ($($arg:tt)*) => {
        $crate::out::err_line(format_args!($($arg)*))
    };
}
