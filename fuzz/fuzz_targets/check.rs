//! Feeds arbitrary UTF-8 to the parser and checker; any panic is a bug.
#![no_main]

use kfl_compiler::source::{MemoryLoader, Origin, SourceFile, Sources};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    // One importable neighbour, so `import "lib.kfl" as lib` reaches the resolver's import path too.
    let loader = MemoryLoader {
        files: vec![("lib.kfl".to_string(), "component c(x: int) -> (y: int) { run = [\"true\", x, y] }\n".to_string())],
    };
    let mut sources = Sources::new();
    let id = sources.add(SourceFile::new("main.kfl", text, Origin::User));
    let checked = kfl_compiler::check(&mut sources, id, &loader);
    for d in &checked.diagnostics {
        for label in std::iter::once(&d.primary).chain(&d.secondary) {
            let len = sources.get(label.span.file).text.len();
            assert!(label.span.start <= label.span.end && label.span.end as usize <= len, "span {:?} outside file", label.span);
        }
    }
});
