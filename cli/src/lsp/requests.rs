//! Request handlers: decode the params, ask `kfl_compiler::ide`, encode the answer.

use kfl_compiler::ide::{self, CompletionKind, OutlineKind, SemanticKind};
use kfl_compiler::resolve::DeclKind;
use kfl_compiler::source::Span;
use lsp_types::request::{
    Completion, DocumentSymbolRequest, Formatting, GotoDefinition, HoverRequest, PrepareRenameRequest, References,
    Rename, Request as _, SemanticTokensFullRequest,
};
use lsp_types::{
    CompletionItem, CompletionItemKind, CompletionTextEdit, DocumentChanges, DocumentSymbol, Documentation, Hover,
    HoverContents, Location, MarkupContent, MarkupKind, OneOf, OptionalVersionedTextDocumentIdentifier, Position,
    PrepareRenameResponse, SemanticToken, SemanticTokenModifier, SemanticTokenType, SemanticTokens, SymbolKind,
    TextDocumentEdit, TextDocumentPositionParams, TextEdit, WorkspaceEdit,
};
use serde_json::Value;

use super::Server;
use super::convert;
use super::workspace::DocumentCheck;

pub enum Failure {
    UnknownMethod,
    BadParams(String),
    /// The request is understood but cannot be answered (e.g. renaming a property).
    Refused(String),
}

/// The legend: indexes match [`SemanticKind::ALL`].
pub const TOKEN_TYPES: &[SemanticTokenType] = &[
    SemanticTokenType::KEYWORD,
    SemanticTokenType::TYPE,
    SemanticTokenType::FUNCTION,
    SemanticTokenType::STRUCT,
    SemanticTokenType::VARIABLE,
    SemanticTokenType::PARAMETER,
    SemanticTokenType::PROPERTY,
    SemanticTokenType::ENUM_MEMBER,
    SemanticTokenType::NAMESPACE,
];

pub const TOKEN_MODIFIERS: &[SemanticTokenModifier] =
    &[SemanticTokenModifier::DECLARATION, SemanticTokenModifier::READONLY, SemanticTokenModifier::DEFAULT_LIBRARY];

fn params<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, Failure> {
    serde_json::from_value(value).map_err(|e| Failure::BadParams(e.to_string()))
}

fn json(value: impl serde::Serialize) -> Result<Value, Failure> {
    serde_json::to_value(value).map_err(|e| Failure::BadParams(e.to_string()))
}

pub fn handle(server: &mut Server<'_>, method: &str, raw: Value) -> Result<Value, Failure> {
    match method {
        HoverRequest::METHOD => {
            let p: TextDocumentPositionParams = position_params(raw)?;
            let Some((doc, offset)) = locate(server, &p) else { return Ok(Value::Null) };
            let Some(hover) = ide::hover(doc.analysis(), doc.file, offset) else { return Ok(Value::Null) };
            json(Hover {
                contents: HoverContents::Markup(MarkupContent { kind: MarkupKind::Markdown, value: hover.markdown }),
                range: Some(convert::range(doc.source(), hover.range)),
            })
        }
        GotoDefinition::METHOD => {
            let p: TextDocumentPositionParams = position_params(raw)?;
            let span = locate(server, &p).and_then(|(doc, offset)| ide::definition(doc.analysis(), doc.file, offset));
            let Some(span) = span else { return Ok(Value::Null) };
            server.ensure_std();
            let Some((doc, _)) = locate(server, &p) else { return Ok(Value::Null) };
            json(location(server, doc, span))
        }
        References::METHOD => {
            let p: lsp_types::ReferenceParams = params(raw)?;
            let Some((doc, offset)) = locate(server, &p.text_document_position) else { return Ok(Value::Null) };
            let spans = ide::references(doc.analysis(), doc.file, offset, p.context.include_declaration);
            let locations: Vec<Location> = spans.into_iter().filter_map(|s| location(server, doc, s)).collect();
            json(locations)
        }
        Completion::METHOD => {
            let p: lsp_types::CompletionParams = params(raw)?;
            let Some((doc, offset)) = locate(server, &p.text_document_position) else { return Ok(Value::Null) };
            // A space triggers completion only to offer values right after `key = `.
            let typed_space = p.context.as_ref().and_then(|c| c.trigger_character.as_deref()) == Some(" ");
            if typed_space && !doc.source().text.get(..offset).is_some_and(|t| t.trim_end_matches(' ').ends_with('=')) {
                return json(Vec::<CompletionItem>::new());
            }
            let items: Vec<CompletionItem> =
                ide::complete(doc.analysis(), doc.file, offset).into_iter().map(|c| completion_item(doc, c)).collect();
            json(items)
        }
        PrepareRenameRequest::METHOD => {
            let p: TextDocumentPositionParams = position_params(raw)?;
            let Some((doc, offset)) = locate(server, &p) else { return Ok(Value::Null) };
            let rename = ide::rename(doc.analysis(), doc.file, offset, None).map_err(Failure::Refused)?;
            json(PrepareRenameResponse::Range(convert::range(doc.source(), rename.range)))
        }
        Rename::METHOD => {
            let p: lsp_types::RenameParams = params(raw)?;
            let Some((doc, offset)) = locate(server, &p.text_document_position) else { return Ok(Value::Null) };
            let rename = ide::rename(doc.analysis(), doc.file, offset, Some(&p.new_name)).map_err(Failure::Refused)?;
            json(workspace_edit(server, doc, &rename.edits, &p.new_name))
        }
        DocumentSymbolRequest::METHOD => {
            let p: lsp_types::DocumentSymbolParams = params(raw)?;
            let Some(doc) = server.workspace.checked(&convert::name_of(&p.text_document.uri)) else {
                return Ok(Value::Null);
            };
            let symbols: Vec<DocumentSymbol> =
                ide::outline(doc.analysis(), doc.file).into_iter().map(|o| document_symbol(doc, o)).collect();
            json(symbols)
        }
        Formatting::METHOD => {
            let p: lsp_types::DocumentFormattingParams = params(raw)?;
            let Some(doc) = server.workspace.checked(&convert::name_of(&p.text_document.uri)) else {
                return Ok(Value::Null);
            };
            let source = doc.source();
            match kfl_compiler::format::format(&source.text) {
                Ok(formatted) if *formatted == *source.text => json(Vec::<TextEdit>::new()),
                Ok(formatted) => {
                    let whole = Span::new(doc.file, 0, source.text.len());
                    json(vec![TextEdit { range: convert::range(source, whole), new_text: formatted }])
                }
                Err(_) => Err(Failure::Refused("the file has syntax errors; fix them to format it".to_string())),
            }
        }
        SemanticTokensFullRequest::METHOD => {
            let p: lsp_types::SemanticTokensParams = params(raw)?;
            let Some(doc) = server.workspace.checked(&convert::name_of(&p.text_document.uri)) else {
                return Ok(Value::Null);
            };
            json(semantic_tokens(doc))
        }
        _ => Err(Failure::UnknownMethod),
    }
}

fn position_params(raw: Value) -> Result<TextDocumentPositionParams, Failure> {
    params(raw)
}

/// The checked document and the byte offset a request points at.
fn locate<'s>(server: &'s Server<'_>, p: &TextDocumentPositionParams) -> Option<(&'s DocumentCheck, usize)> {
    let doc = server.workspace.checked(&convert::name_of(&p.text_document.uri))?;
    Some((doc, convert::offset(doc.source(), p.position)))
}

fn location(server: &Server<'_>, doc: &DocumentCheck, span: Span) -> Option<Location> {
    let file = doc.sources.get(span.file);
    Some(Location { uri: convert::uri_of(&file.name, &server.std_dir)?, range: convert::range(file, span) })
}

fn workspace_edit(server: &Server<'_>, doc: &DocumentCheck, spans: &[Span], new_name: &str) -> WorkspaceEdit {
    let mut edits: Vec<TextDocumentEdit> = Vec::new();
    for span in spans {
        let file = doc.sources.get(span.file);
        let Some(uri) = convert::uri_of(&file.name, &server.std_dir) else { continue };
        let edit = OneOf::Left(TextEdit { range: convert::range(file, *span), new_text: new_name.to_string() });
        match edits.iter_mut().find(|e| e.text_document.uri == uri) {
            Some(existing) => existing.edits.push(edit),
            None => {
                let version = server.workspace.documents.get(&file.name).map(|d| d.version);
                edits.push(TextDocumentEdit {
                    text_document: OptionalVersionedTextDocumentIdentifier { uri, version },
                    edits: vec![edit],
                });
            }
        }
    }
    WorkspaceEdit { document_changes: Some(DocumentChanges::Edits(edits)), ..WorkspaceEdit::default() }
}

fn completion_item(doc: &DocumentCheck, completion: ide::Completion) -> CompletionItem {
    let kind = match completion.kind {
        CompletionKind::Keyword => CompletionItemKind::KEYWORD,
        CompletionKind::Property => CompletionItemKind::PROPERTY,
        CompletionKind::EnumValue => CompletionItemKind::ENUM_MEMBER,
        CompletionKind::Declaration(DeclKind::Param) => CompletionItemKind::VARIABLE,
        CompletionKind::Declaration(DeclKind::Step | DeclKind::Train | DeclKind::Component | DeclKind::Tune) => {
            CompletionItemKind::FUNCTION
        }
        CompletionKind::Declaration(_) => CompletionItemKind::STRUCT,
        CompletionKind::Field => CompletionItemKind::FIELD,
        CompletionKind::Module => CompletionItemKind::MODULE,
        CompletionKind::Function => CompletionItemKind::FUNCTION,
        CompletionKind::Value => CompletionItemKind::VALUE,
    };
    let range = convert::range(doc.source(), completion.replace);
    CompletionItem {
        label: completion.label,
        kind: Some(kind),
        detail: completion.detail,
        documentation: completion
            .documentation
            .map(|value| Documentation::MarkupContent(MarkupContent { kind: MarkupKind::Markdown, value })),
        text_edit: Some(CompletionTextEdit::Edit(TextEdit { range, new_text: completion.insert_text })),
        ..CompletionItem::default()
    }
}

#[allow(deprecated)] // `DocumentSymbol::deprecated` must be written out; it is `None`.
fn document_symbol(doc: &DocumentCheck, outline: ide::Outline) -> DocumentSymbol {
    let kind = match outline.kind {
        OutlineKind::Import => SymbolKind::MODULE,
        OutlineKind::Param => SymbolKind::CONSTANT,
        OutlineKind::Declaration(DeclKind::Step | DeclKind::Train | DeclKind::Component | DeclKind::Tune) => {
            SymbolKind::FUNCTION
        }
        OutlineKind::Declaration(DeclKind::Project) => SymbolKind::PACKAGE,
        OutlineKind::Declaration(_) => SymbolKind::STRUCT,
        OutlineKind::Loop => SymbolKind::ARRAY,
        OutlineKind::Input | OutlineKind::Output => SymbolKind::FIELD,
        OutlineKind::Metric => SymbolKind::PROPERTY,
        OutlineKind::Rule => SymbolKind::EVENT,
    };
    let source = doc.source();
    DocumentSymbol {
        name: outline.name,
        detail: outline.detail,
        kind,
        tags: None,
        deprecated: None,
        range: convert::range(source, outline.range),
        selection_range: convert::range(source, outline.selection),
        children: Some(outline.children.into_iter().map(|c| document_symbol(doc, c)).collect()),
    }
}

fn semantic_tokens(doc: &DocumentCheck) -> SemanticTokens {
    let source = doc.source();
    let mut data = Vec::new();
    let mut previous = Position { line: 0, character: 0 };
    for token in ide::semantic_tokens(doc.analysis(), doc.file) {
        let start = convert::position(source, token.span.start as usize);
        let end = convert::position(source, token.span.end as usize);
        if end.line != start.line {
            continue;
        }
        let delta_line = start.line - previous.line;
        let delta_start = if delta_line == 0 { start.character - previous.character } else { start.character };
        let token_type = SemanticKind::ALL.iter().position(|k| *k == token.kind).unwrap_or(0) as u32;
        let modifiers =
            u32::from(token.declaration) | u32::from(token.readonly) << 1 | u32::from(token.default_library) << 2;
        data.push(SemanticToken {
            delta_line,
            delta_start,
            length: end.character - start.character,
            token_type,
            token_modifiers_bitset: modifiers,
        });
        previous = start;
    }
    SemanticTokens { result_id: None, data }
}
