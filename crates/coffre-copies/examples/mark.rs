//! Marks a JPEG or a PDF as a copy leaving the vault would be, to look at
//! the result: `cargo run -p coffre-copies --example mark -- IN OUT "mark"`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, input, output, mark] = args.as_slice() else {
        return ExitCode::from(2);
    };
    let Ok(bytes) = std::fs::read(input) else {
        return ExitCode::from(1);
    };
    let kind = if input.ends_with(".pdf") {
        "application/pdf"
    } else {
        "image/jpeg"
    };
    match coffre_copies::marked_copy(&bytes, kind, mark) {
        Ok(pdf) if std::fs::write(output, &pdf).is_ok() => ExitCode::SUCCESS,
        _ => ExitCode::from(1),
    }
}
