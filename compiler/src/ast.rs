//! The untyped syntax tree, close to the surface syntax; every node carries its span.

use crate::source::{FileId, Span};

/// Identifier and key text: stored inline up to 24 bytes, which is nearly every name, so a name costs no
/// allocation of its own.
pub type Name = compact_str::CompactString;

/// A name as written, with its span.
#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    pub name: Name,
    pub span: Span,
}

/// A `///` documentation block (the text without the slashes, lines joined by `\n`).
#[derive(Clone, Debug, PartialEq)]
pub struct Doc {
    pub text: String,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct File {
    pub id: FileId,
    /// The file's own documentation: a doc block followed by a blank line, or
    /// standing above the first `import`.
    pub doc: Option<Doc>,
    pub items: Vec<Item>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub doc: Option<Doc>,
    pub kind: ItemKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ItemKind {
    Import(Import),
    Param(Param),
    /// `project`, `secret`, `volume`, `dataset`, `notebook`, `tune`, `model`,
    /// `serve`, `monitor`: a keyword, a name and a block of entries.
    Block(BlockDecl),
    /// `component`, `step`, `train` with a signature and a body.
    Stage(StageDecl),
    /// `step NAME = COMPONENT(arg = value, …)`.
    StepCall(StepCall),
    For(ForBlock),
}

impl Item {
    /// The declared name, when the item declares one.
    pub fn name(&self) -> Option<&Ident> {
        match &self.kind {
            ItemKind::Import(import) => import.alias.as_ref(),
            ItemKind::Param(param) => Some(&param.name),
            ItemKind::Block(block) => Some(&block.name),
            ItemKind::Stage(stage) => Some(&stage.name),
            ItemKind::StepCall(call) => Some(&call.name),
            ItemKind::For(_) => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BlockKind {
    Project,
    Secret,
    Volume,
    Dataset,
    Notebook,
    Tune,
    Model,
    Serve,
    Monitor,
}

impl BlockKind {
    pub fn keyword(self) -> &'static str {
        match self {
            BlockKind::Project => "project",
            BlockKind::Secret => "secret",
            BlockKind::Volume => "volume",
            BlockKind::Dataset => "dataset",
            BlockKind::Notebook => "notebook",
            BlockKind::Tune => "tune",
            BlockKind::Model => "model",
            BlockKind::Serve => "serve",
            BlockKind::Monitor => "monitor",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StageKind {
    Component,
    Step,
    Train,
}

impl StageKind {
    pub fn keyword(self) -> &'static str {
        match self {
            StageKind::Component => "component",
            StageKind::Step => "step",
            StageKind::Train => "train",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Import {
    pub target: ImportTarget,
    pub alias: Option<Ident>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ImportTarget {
    /// `import "lib/common.kfl"`: the path as written (no interpolation).
    File { path: String, span: Span },
    /// `import std.data`: the segments after `std`, with the whole path's span.
    Std { path: Vec<Ident>, span: Span },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub name: Ident,
    pub ty: TypeExpr,
    pub default: Option<Expr>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct BlockDecl {
    pub kind: BlockKind,
    pub keyword: Span,
    pub name: Ident,
    pub body: Block,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StageDecl {
    pub kind: StageKind,
    pub keyword: Span,
    pub name: Ident,
    /// `None` when the stage has no `( … )`.
    pub inputs: Option<Vec<Input>>,
    /// `None` when the stage has no `-> ( … )`.
    pub outputs: Option<Vec<Output>>,
    pub body: Block,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Input {
    pub name: Ident,
    pub ty: TypeExpr,
    pub default: Option<Expr>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Output {
    pub name: Ident,
    pub ty: TypeExpr,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StepCall {
    pub keyword: Span,
    pub name: Ident,
    /// `common.split` is `[common, split]`.
    pub component: Vec<Ident>,
    pub args: Vec<Arg>,
    pub args_span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ForBlock {
    pub keyword: Span,
    pub var: Ident,
    pub iterable: Expr,
    pub items: Vec<Item>,
}

/// A type as written: `int`, `Dataset`, `list[float]`.
#[derive(Clone, Debug, PartialEq)]
pub struct TypeExpr {
    pub name: Ident,
    pub arg: Option<Box<TypeExpr>>,
    pub span: Span,
}

/// `{ entries }` — a declaration body, or an object value.
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    pub entries: Vec<Entry>,
    pub span: Span,
}

impl Block {
    pub fn properties(&self) -> impl Iterator<Item = &Property> {
        self.entries.iter().filter_map(|e| match e {
            Entry::Property(p) => Some(p),
            _ => None,
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Entry {
    Property(Property),
    /// `metrics { name: type, … }`
    Fields(Fields),
    /// `mount VOLUME at "/path"`
    Mount(Mount),
    /// `rule NAME { … }`
    Rule(MonitorRule),
}

impl Entry {
    pub fn span(&self) -> Span {
        match self {
            Entry::Property(p) => p.span,
            Entry::Fields(f) => f.span,
            Entry::Mount(m) => m.span,
            Entry::Rule(r) => r.span,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Property {
    pub key: Key,
    pub value: Expr,
    /// `key { … }` rather than `key = { … }`; kept so `fmt` can preserve it.
    pub block_form: bool,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Fields {
    pub key: Key,
    pub fields: Vec<Field>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    pub key: Key,
    pub ty: TypeExpr,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Mount {
    pub keyword: Span,
    pub volume: Expr,
    pub path: Expr,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MonitorRule {
    pub keyword: Span,
    pub name: Ident,
    pub body: Block,
    pub span: Span,
}

/// A dotted key; quoted segments keep their quotes' information.
#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    pub segments: Vec<KeySegment>,
    pub span: Span,
}

impl Key {
    /// The segments joined by `.`, as one key (outside `k8s`).
    pub fn joined(&self) -> String {
        let parts: Vec<&str> = self.segments.iter().map(|s| s.text.as_str()).collect();
        parts.join(".")
    }

    /// The single bare segment, when the key is a plain name like `run`.
    pub fn simple(&self) -> Option<&str> {
        match self.segments.as_slice() {
            [only] if !only.quoted => Some(&only.text),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct KeySegment {
    pub text: Name,
    pub quoted: bool,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// Boxed: literals are common and the other variants are small.
    Number(Box<NumberLit>),
    String(StringLit),
    Bool(bool),
    List(Vec<Expr>),
    Object(Block),
    /// A bare name.
    Name(Ident),
    /// `base.member`
    Member(Box<Expr>, Ident),
    Call(Box<Expr>, Vec<Arg>),
    Unary(UnaryOp, Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    Paren(Box<Expr>),
}

impl Expr {
    /// `a.b.c` as `[a, b, c]` when the expression is a plain dotted path.
    pub fn as_path(&self) -> Option<Vec<&Ident>> {
        match &self.kind {
            ExprKind::Name(name) => Some(vec![name]),
            ExprKind::Member(base, member) => {
                let mut path = base.as_path()?;
                path.push(member);
                Some(path)
            }
            _ => None,
        }
    }

    /// Strips redundant parentheses.
    pub fn unparen(&self) -> &Expr {
        match &self.kind {
            ExprKind::Paren(inner) => inner.unparen(),
            _ => self,
        }
    }
}

/// A number as written: the digits, and the unit suffix if any.
#[derive(Clone, Debug, PartialEq)]
pub struct NumberLit {
    /// The mantissa and exponent as written (`1.5`, `1e-3`).
    pub text: String,
    /// Whether the literal has a `.` or an exponent.
    pub is_float: bool,
    pub unit: Option<String>,
    pub unit_span: Option<Span>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StringLit {
    pub parts: Vec<StringPart>,
    pub raw: bool,
}

impl StringLit {
    /// The text when the string has no interpolation.
    pub fn as_plain(&self) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                StringPart::Text(text) => out.push_str(text),
                StringPart::Interpolation(_) => return None,
            }
        }
        Some(out)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum StringPart {
    /// Text with escapes already decoded.
    Text(String),
    Interpolation(Expr),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Arg {
    pub name: Option<Ident>,
    pub value: Expr,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    Not,
    Neg,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Range,
    Add,
    Sub,
    Mul,
    Div,
}

impl BinaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Or => "||",
            BinaryOp::And => "&&",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::Range => "..",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
        }
    }

    /// Binding power, loosest first (spec §6).
    pub fn precedence(self) -> u8 {
        match self {
            BinaryOp::Or => 1,
            BinaryOp::And => 2,
            BinaryOp::Eq | BinaryOp::Ne => 3,
            BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => 4,
            BinaryOp::Range => 5,
            BinaryOp::Add | BinaryOp::Sub => 6,
            BinaryOp::Mul | BinaryOp::Div => 7,
        }
    }

    /// Comparisons and ranges do not chain (`a < b < c` is an error).
    pub fn is_non_associative(self) -> bool {
        matches!(self.precedence(), 4 | 5)
    }
}
