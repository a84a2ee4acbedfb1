//! `BinaryTensorError`: why a binary tensor request or answer was refused, naming the tensor and what it held.
//! A refused request reaches no predictor (400); a refused answer reaches no client (502).

use std::fmt;

use super::{Datatype, HEADER};

#[derive(Debug)]
pub enum BinaryTensorError {
    /// A problem with one tensor: an input of the request or an output of the predictor's answer.
    Tensor {
        side: Side,
        name: String,
        problem: TensorProblem,
    },
    /// The JSON-length header is not a number (`value` as sent).
    HeaderNotACount {
        value: String,
    },
    HeaderBeyondBody {
        length: usize,
        body: usize,
    },
    JsonPart {
        length: usize,
        source: serde_json::Error,
    },
    NoInputs,
    InputNotObject,
    /// Binary data left over after every input that declares some.
    TrailingBytes {
        count: usize,
    },
    /// The rewritten JSON (`what`: the decoded request, the answer) could not be written.
    Write {
        what: &'static str,
        source: serde_json::Error,
    },
}

/// Whose tensor it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Input,
    Output,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TensorProblem {
    UnknownDatatype(String),
    DatatypeNotString,
    BadShape,
    /// `binary_data_size` as sent.
    BadBinarySize(String),
    DataAndBinary,
    SizeBeyondData {
        size: usize,
        left: usize,
    },
    /// `needed`: the byte count the shape needs, or "more than addressable".
    SizeMismatch {
        elements: usize,
        datatype: Datatype,
        needed: String,
        size: usize,
    },
    NotFinite(f64),
    TruncatedPrefix {
        index: usize,
    },
    ElementTooLong {
        index: usize,
        length: usize,
        left: usize,
    },
    NotUtf8 {
        index: usize,
    },
    BytesCount {
        elements: usize,
        found: usize,
    },
    NoData,
    ParametersNotObject,
    DataCount {
        elements: usize,
        found: usize,
    },
    Element {
        index: usize,
        value: String,
        expected: &'static str,
    },
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Input => "input",
            Side::Output => "the predictor's output",
        })
    }
}

impl fmt::Display for BinaryTensorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BinaryTensorError::Tensor { side, name, problem } => write!(f, "{side} {name:?}{problem}"),
            BinaryTensorError::HeaderNotACount { value } => write!(f, "{HEADER} must be a byte count, got {value:?}"),
            BinaryTensorError::HeaderBeyondBody { length, body } => {
                write!(f, "{HEADER} is {length} but the body has only {body} bytes")
            }
            BinaryTensorError::JsonPart { length, source } => {
                write!(f, "the first {length} bytes ({HEADER}) are not a JSON object: {source}")
            }
            BinaryTensorError::NoInputs => f.write_str("the JSON part has no \"inputs\" list"),
            BinaryTensorError::InputNotObject => f.write_str("every input must be a JSON object"),
            BinaryTensorError::TrailingBytes { count } => {
                write!(f, "{count} bytes follow the binary data of the inputs that declare binary_data_size")
            }
            BinaryTensorError::Write { what, source } => write!(f, "cannot write {what}: {source}"),
        }
    }
}

/// Written right after the tensor's name: `: …` for most problems, ` has …` for the rest.
impl fmt::Display for TensorProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TensorProblem::UnknownDatatype(datatype) => write!(f, ": unknown datatype {datatype:?}"),
            TensorProblem::DatatypeNotString => f.write_str(": \"datatype\" must be a string such as \"FP32\""),
            TensorProblem::BadShape => f.write_str(": \"shape\" must be a list of non-negative integers"),
            TensorProblem::BadBinarySize(size) => {
                write!(f, ": binary_data_size must be a non-negative integer, got {size}")
            }
            TensorProblem::DataAndBinary => f.write_str(" has both \"data\" and binary_data_size"),
            TensorProblem::SizeBeyondData { size, left } => {
                write!(f, ": binary_data_size is {size} but only {left} bytes of binary data are left")
            }
            TensorProblem::SizeMismatch { elements, datatype, needed, size } => write!(
                f,
                ": its shape holds {elements} {datatype:?} elements ({needed} bytes) but binary_data_size is {size}"
            ),
            TensorProblem::NotFinite(value) => {
                write!(f, ": {value} is not finite, and JSON cannot carry it to the predictor")
            }
            TensorProblem::TruncatedPrefix { index } => {
                write!(f, ": element {index} has a truncated 4-byte length prefix")
            }
            TensorProblem::ElementTooLong { index, length, left } => {
                write!(f, ": element {index} declares {length} bytes but only {left} remain")
            }
            TensorProblem::NotUtf8 { index } => {
                write!(f, ": element {index} is not UTF-8 text, which a JSON predictor cannot receive")
            }
            TensorProblem::BytesCount { elements, found } => {
                write!(f, ": its shape holds {elements} BYTES elements but the binary data has {found}")
            }
            TensorProblem::NoData => f.write_str(" has no \"data\""),
            TensorProblem::ParametersNotObject => f.write_str(" has \"parameters\" that is not an object"),
            TensorProblem::DataCount { elements, found } => {
                write!(f, ": its shape holds {elements} elements but \"data\" has {found}")
            }
            TensorProblem::Element { index, value, expected } => {
                write!(f, ": element {index} is {value}, expected {expected}")
            }
        }
    }
}

impl std::error::Error for BinaryTensorError {}
