//! `kfl lsp`: the language server over stdio (JSON-RPC through `lsp-server`); the answers come from `kfl_compiler::ide`.
//!
//! Documents are synchronised in full; every change re-checks the document
//! and the open documents importing it, then publishes their diagnostics.
//! Standard-library modules are written to a cache folder (see
//! [`convert::std_dir`]) so go-to-definition can open them as ordinary files.

mod convert;
mod requests;
mod workspace;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use kfl_compiler::source::Origin;

use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidChangeWatchedFiles, DidCloseTextDocument, DidOpenTextDocument, Notification as _,
    PublishDiagnostics,
};
use lsp_types::{
    CompletionOptions, HoverProviderCapability, InitializeResult, OneOf, PublishDiagnosticsParams, RenameOptions,
    SemanticTokensFullOptions, SemanticTokensLegend, SemanticTokensOptions, SemanticTokensServerCapabilities,
    ServerCapabilities, ServerInfo, TextDocumentSyncCapability, TextDocumentSyncKind, WorkDoneProgressOptions,
};

use crate::Status;
use workspace::Workspace;

/// Start the language server on stdin/stdout (editors run this; see editors/README.md).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Accepted for editors that pass it; stdio is the only transport.
    #[arg(long)]
    stdio: bool,
}

pub fn run(_args: Args) -> Status {
    let (connection, io_threads) = Connection::stdio();
    let result = serve(&connection);
    drop(connection);
    let joined = io_threads.join();
    match (result, joined) {
        (Ok(()), Ok(())) => Status::Ok,
        (Err(message), _) => {
            eprintln!("error: kfl lsp: {message}");
            Status::Usage
        }
        (_, Err(e)) => {
            eprintln!("error: kfl lsp: {e}");
            Status::Usage
        }
    }
}

fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec![".".to_string(), "=".to_string(), " ".to_string()]),
            ..CompletionOptions::default()
        }),
        rename_provider: Some(OneOf::Right(RenameOptions {
            prepare_provider: Some(true),
            work_done_progress_options: WorkDoneProgressOptions::default(),
        })),
        document_symbol_provider: Some(OneOf::Left(true)),
        document_formatting_provider: Some(OneOf::Left(true)),
        semantic_tokens_provider: Some(SemanticTokensServerCapabilities::SemanticTokensOptions(
            SemanticTokensOptions {
                legend: SemanticTokensLegend {
                    token_types: requests::TOKEN_TYPES.to_vec(),
                    token_modifiers: requests::TOKEN_MODIFIERS.to_vec(),
                },
                full: Some(SemanticTokensFullOptions::Bool(true)),
                range: None,
                work_done_progress_options: WorkDoneProgressOptions::default(),
            },
        )),
        ..ServerCapabilities::default()
    }
}

fn serve(connection: &Connection) -> Result<(), String> {
    let initialize = InitializeResult {
        capabilities: capabilities(),
        server_info: Some(ServerInfo { name: "kfl".to_string(), version: Some(env!("CARGO_PKG_VERSION").to_string()) }),
    };
    let initialize = serde_json::to_value(initialize).map_err(|e| e.to_string())?;
    let (id, _params) = connection.initialize_start().map_err(|e| e.to_string())?;
    connection.initialize_finish(id, initialize).map_err(|e| e.to_string())?;
    let std_dir = convert::std_dir();
    let mut server = Server {
        connection,
        workspace: Workspace::new(Some(format!("{}/", std_dir.display()))),
        std_dir,
        std_written: false,
        imported_published: BTreeMap::new(),
    };
    for message in &connection.receiver {
        match message {
            Message::Request(request) => {
                if connection.handle_shutdown(&request).map_err(|e| e.to_string())? {
                    return Ok(());
                }
                server.request(request)?;
            }
            Message::Notification(notification) => server.notification(notification)?,
            Message::Response(_) => {}
        }
    }
    Ok(())
}

pub(crate) struct Server<'c> {
    connection: &'c Connection,
    pub workspace: Workspace,
    pub std_dir: PathBuf,
    std_written: bool,
    /// Open document → the imported files it last published diagnostics for.
    imported_published: BTreeMap<String, BTreeSet<String>>,
}

impl Server<'_> {
    fn send(&self, message: Message) -> Result<(), String> {
        self.connection.sender.send(message).map_err(|e| format!("cannot reply: {e}"))
    }

    /// Makes sure the standard library's files exist before a URI into them is handed out.
    pub fn ensure_std(&mut self) {
        if !self.std_written {
            self.std_written = convert::write_std(&self.std_dir).is_ok();
        }
    }

    fn request(&mut self, request: Request) -> Result<(), String> {
        let id = request.id.clone();
        let response = match requests::handle(self, &request.method, request.params) {
            Ok(result) => Response::new_ok(id, result),
            Err(requests::Failure::UnknownMethod) => {
                Response::new_err(id, ErrorCode::MethodNotFound as i32, format!("unknown method {}", request.method))
            }
            Err(requests::Failure::BadParams(message)) => {
                Response::new_err(id, ErrorCode::InvalidParams as i32, message)
            }
            Err(requests::Failure::Refused(message)) => Response::new_err(id, ErrorCode::RequestFailed as i32, message),
        };
        self.send(Message::Response(response))
    }

    fn notification(&mut self, notification: Notification) -> Result<(), String> {
        let changed = match notification.method.as_str() {
            DidOpenTextDocument::METHOD => {
                let Ok(params) = serde_json::from_value::<lsp_types::DidOpenTextDocumentParams>(notification.params)
                else {
                    return Ok(());
                };
                let name = convert::name_of(&params.text_document.uri);
                self.workspace.open(name.clone(), params.text_document.text, params.text_document.version);
                name
            }
            DidChangeTextDocument::METHOD => {
                let Ok(params) = serde_json::from_value::<lsp_types::DidChangeTextDocumentParams>(notification.params)
                else {
                    return Ok(());
                };
                let name = convert::name_of(&params.text_document.uri);
                // Full synchronisation: the last change holds the whole text.
                let Some(change) = params.content_changes.into_iter().last() else { return Ok(()) };
                if !self.workspace.change(&name, change.text, params.text_document.version) {
                    return Ok(());
                }
                name
            }
            DidCloseTextDocument::METHOD => {
                let Ok(params) = serde_json::from_value::<lsp_types::DidCloseTextDocumentParams>(notification.params)
                else {
                    return Ok(());
                };
                let name = convert::name_of(&params.text_document.uri);
                self.workspace.close(&name);
                self.publish(params.text_document.uri, Vec::new(), None)?;
                let imported = self.imported_published.remove(&name).unwrap_or_default();
                self.clear_imported(imported.iter())?;
                // Open files that imported it now read it from disk.
                for other in self.workspace.recheck(&name) {
                    self.publish_checked(&other)?;
                }
                self.workspace.free_retired();
                return Ok(());
            }
            DidChangeWatchedFiles::METHOD => {
                let Ok(params) = serde_json::from_value::<lsp_types::DidChangeWatchedFilesParams>(notification.params)
                else {
                    return Ok(());
                };
                // A file changed on disk (the VS Code client watches `**/*.kfl`): re-check the
                // open documents that import it. Open documents themselves are synchronised.
                let mut rechecked = BTreeSet::new();
                for change in params.changes {
                    let name = convert::name_of(&change.uri);
                    if self.workspace.documents.contains_key(&name) {
                        continue;
                    }
                    for other in self.workspace.recheck(&name) {
                        rechecked.insert(other);
                    }
                }
                for name in rechecked {
                    self.publish_checked(&name)?;
                }
                self.workspace.free_retired();
                return Ok(());
            }
            _ => return Ok(()),
        };
        for name in self.workspace.recheck(&changed) {
            self.publish_checked(&name)?;
        }
        self.workspace.free_retired();
        Ok(())
    }

    fn publish_checked(&mut self, name: &str) -> Result<(), String> {
        let Some(document) = self.workspace.documents.get(name) else { return Ok(()) };
        let Some(checked) = &document.checked else { return Ok(()) };
        let diagnostics =
            convert::diagnostics(&checked.sources, &checked.checked.diagnostics, checked.file, &self.std_dir);
        let Some(uri) = convert::uri_of(name, &self.std_dir) else { return Ok(()) };
        let version = Some(document.version);
        // Problems inside imported files that are not open are published under their own
        // URIs, so an editor lists them as `kfl check` would; open files publish their own.
        let mut imported = Vec::new();
        for (file, source) in checked.sources.iter().skip(1) {
            if source.origin != Origin::User || self.workspace.documents.contains_key(&source.name) {
                continue;
            }
            let found = convert::diagnostics(&checked.sources, &checked.checked.diagnostics, file, &self.std_dir);
            if !found.is_empty() {
                imported.push((source.name.clone(), found));
            }
        }
        self.publish(uri, diagnostics, version)?;
        let previous = self.imported_published.remove(name).unwrap_or_default();
        let now: BTreeSet<String> = imported.iter().map(|(n, _)| n.clone()).collect();
        for (file, found) in imported {
            if let Some(uri) = convert::uri_of(&file, &self.std_dir) {
                self.publish(uri, found, None)?;
            }
        }
        self.clear_imported(previous.difference(&now))?;
        self.imported_published.insert(name.to_string(), now);
        Ok(())
    }

    /// Clears diagnostics published for imported files.
    fn clear_imported<'n>(&self, names: impl Iterator<Item = &'n String>) -> Result<(), String> {
        for file in names {
            if let Some(uri) = convert::uri_of(file, &self.std_dir) {
                self.publish(uri, Vec::new(), None)?;
            }
        }
        Ok(())
    }

    fn publish(
        &self,
        uri: lsp_types::Uri,
        diagnostics: Vec<lsp_types::Diagnostic>,
        version: Option<i32>,
    ) -> Result<(), String> {
        let params = PublishDiagnosticsParams { uri, diagnostics, version };
        let params = serde_json::to_value(params).map_err(|e| e.to_string())?;
        self.send(Message::Notification(Notification::new(PublishDiagnostics::METHOD.to_string(), params)))
    }
}
