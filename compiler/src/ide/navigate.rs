//! Go to definition, find references and rename, all answered from the name index.

use crate::ast::{ImportTarget, ItemKind};
use crate::ide::index::{Occurrence, Symbol, occurrences, symbol_at};
use crate::ide::{Analysis, is_identifier};
use crate::source::{FileId, Origin, Span};

/// Where the symbol under `offset` is declared: a span in any file the check loaded.
pub fn definition(analysis: Analysis<'_>, file: FileId, offset: usize) -> Option<Span> {
    let occurrence = symbol_at(analysis, file, offset)?;
    declaration_of(analysis, &occurrence.symbol)
}

/// The declaring span of `symbol`, when it is declared in source (not a property or enum value).
pub(crate) fn declaration_of(analysis: Analysis<'_>, symbol: &Symbol) -> Option<Span> {
    let file = match symbol {
        Symbol::Decl { file, .. } | Symbol::Field { file, .. } | Symbol::LoopVar { file, .. } => *file,
        Symbol::Import { file, name } => {
            let found = occurrences(analysis, *file).into_iter().find(|o| o.declaration && o.symbol == *symbol);
            return found.map(|o| o.span).or_else(|| implicit_alias_span(analysis, *file, name));
        }
        Symbol::File { file } => return Some(Span { file: *file, start: 0, end: 0 }),
        Symbol::Property { .. } | Symbol::EnumValue { .. } | Symbol::Builtin { .. } => return None,
    };
    occurrences(analysis, file).into_iter().find(|o| o.declaration && o.symbol == *symbol).map(|o| o.span)
}

/// An import without `as` declares its alias through the path it names.
fn implicit_alias_span(analysis: Analysis<'_>, file: FileId, alias: &str) -> Option<Span> {
    let module = analysis.module(file)?;
    let (_, item_span) = module.imports.get(alias)?;
    module.ast.items.iter().find(|i| i.span == *item_span).and_then(|item| match &item.kind {
        ItemKind::Import(import) => Some(match &import.target {
            ImportTarget::File { span, .. } | ImportTarget::Std { span, .. } => *span,
        }),
        _ => None,
    })
}

/// Every place the symbol under `offset` is written, across the loaded files, in file then source order.
pub fn references(analysis: Analysis<'_>, file: FileId, offset: usize, include_declaration: bool) -> Vec<Span> {
    let Some(occurrence) = symbol_at(analysis, file, offset) else { return Vec::new() };
    all_occurrences(analysis, &occurrence.symbol)
        .into_iter()
        .filter(|o| include_declaration || !o.declaration)
        .map(|o| o.span)
        .collect()
}

fn all_occurrences(analysis: Analysis<'_>, symbol: &Symbol) -> Vec<Occurrence> {
    let mut files: Vec<FileId> = analysis.checked.modules.modules.iter().map(|m| m.file).collect();
    files.sort();
    files.dedup();
    files.into_iter().flat_map(|f| occurrences(analysis, f)).filter(|o| o.symbol == *symbol).collect()
}

/// The edits that rename the symbol under the cursor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rename {
    /// The span of the name under the cursor.
    pub range: Span,
    /// Spans to replace with the new name, in file then source order.
    pub edits: Vec<Span>,
}

/// What renaming the symbol under `offset` would touch, or why it cannot be renamed.
/// `new_name` is checked when given (the editor asks once before it knows it).
pub fn rename(analysis: Analysis<'_>, file: FileId, offset: usize, new_name: Option<&str>) -> Result<Rename, String> {
    let occurrence = symbol_at(analysis, file, offset).ok_or("there is no name here to rename")?;
    let symbol = &occurrence.symbol;
    match symbol {
        Symbol::Decl { .. } | Symbol::Field { .. } | Symbol::LoopVar { .. } => {}
        Symbol::Import { file: alias_file, name } => {
            let explicit = occurrences(analysis, *alias_file).into_iter().any(|o| o.declaration && o.symbol == *symbol);
            if !explicit {
                return Err(format!(
                    "`{name}` is named by its import path; add `as {name}` to the import to rename it"
                ));
            }
        }
        Symbol::File { .. } => return Err("rename the file itself, then its import path".to_string()),
        Symbol::Property { name, .. } => return Err(format!("`{name}` is a property of the language")),
        Symbol::EnumValue { value, .. } => return Err(format!("`{value}` is a value of the language")),
        Symbol::Builtin { name } => return Err(format!("`{name}` is built in")),
    }
    let declaration = declaration_of(analysis, symbol).ok_or("the declaration of this name is not loaded")?;
    if analysis.sources.get(declaration.file).origin == Origin::Stdlib {
        return Err("names of the standard library cannot be renamed".to_string());
    }
    if let Some(new_name) = new_name
        && !is_identifier(new_name)
    {
        return Err(format!("`{new_name}` is not a valid name: use letters, digits and `_`, starting with a letter"));
    }
    let edits = all_occurrences(analysis, symbol).into_iter().map(|o| o.span).collect();
    Ok(Rename { range: occurrence.span, edits })
}
