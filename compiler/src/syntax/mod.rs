//! Parsing: text → AST, recovering declaration by declaration so every syntax error in a file is reported.

pub mod dump;
mod error;
mod lower;
pub mod trivia;

use kfl_grammar::{KflParser, Rule};
use pest::Parser;

use crate::ast;
use crate::diagnostics::Diagnostic;
use crate::source::FileId;

/// Parses one file. Always returns a tree: declarations that failed to parse
/// are left out and reported as E0001 diagnostics.
pub fn parse(file: FileId, src: &str) -> (ast::File, Vec<Diagnostic>) {
    let trivia = trivia::scan(src);
    let mut diagnostics = Vec::new();
    let mut items = Vec::new();
    match KflParser::parse(Rule::file, src) {
        Ok(mut pairs) => {
            let mut lowerer = lower::Lowerer::new(file, src, 0, &trivia.comments);
            if let Some(pair) = pairs.next() {
                items = lowerer.items(pair);
            }
            diagnostics.extend(lowerer.diagnostics);
        }
        Err(first_error) => {
            // pest stops at the first error; parse each top-level declaration on
            // its own so the others are still checked and reported.
            let mut starts = trivia.declaration_starts.clone();
            if starts.first() != Some(&0) {
                starts.insert(0, 0);
            }
            let mut any_chunk_failed = false;
            for (index, &start) in starts.iter().enumerate() {
                let end = starts.get(index + 1).copied().unwrap_or(src.len());
                let chunk = &src[start..end];
                match KflParser::parse(Rule::item_chunk, chunk) {
                    Ok(mut pairs) => {
                        let mut lowerer = lower::Lowerer::new(file, src, start, &trivia.comments);
                        if let Some(pair) = pairs.next() {
                            items.extend(lowerer.items(pair));
                        }
                        diagnostics.extend(lowerer.diagnostics);
                    }
                    Err(err) => {
                        any_chunk_failed = true;
                        diagnostics.push(error::syntax_error(file, src, start, &err));
                    }
                }
            }
            if !any_chunk_failed {
                // Every piece parses alone but the whole does not (e.g. a stray
                // `}` the splitter absorbed): report the whole-file error.
                diagnostics.push(error::syntax_error(file, src, 0, &first_error));
            }
        }
    }
    let first_item = items.first().map(|item: &ast::Item| item.span.start as usize);
    let first_is_import = matches!(items.first().map(|i| &i.kind), Some(ast::ItemKind::Import(_)));
    let doc = trivia::file_doc(src, &trivia.comments, first_item, first_is_import)
        .map(|(text, start, end)| ast::Doc { text, span: crate::source::Span::new(file, start, end) });
    if doc.is_some() {
        // A doc that documents the file does not also document the first item.
        if let Some(first) = items.first_mut()
            && first.doc.as_ref().map(|d| d.span) == doc.as_ref().map(|d| d.span)
        {
            first.doc = None;
        }
    }
    (ast::File { id: file, doc, items }, diagnostics)
}

/// The comments of a file, for the formatter.
pub fn comments(src: &str) -> Vec<trivia::Comment> {
    trivia::scan(src).comments
}
