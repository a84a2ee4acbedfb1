//! The Open Inference Protocol's binary tensor data extension: binary requests decoded to JSON for
//! predictors that speak JSON, and JSON answers encoded to binary when the client asks for it.
//!
//! The layout follows KServe's Python SDK 0.21.0 (python/kserve/kserve/protocol/infer_type.py:
//! `InferRequest.to_rest`/`from_bytes`, `InferResponse.to_rest`/`from_bytes`,
//! `serialize_byte_tensor`; constants/constants.py `INFERENCE_CONTENT_LENGTH_HEADER`) and Triton's
//! binary_tensor_data_extension.md, which KServe implements: the body is a JSON object of
//! `Inference-Header-Content-Length` bytes followed by the raw tensors, in the order of the JSON's
//! tensors that carry `parameters.binary_data_size` instead of `data`. Fixed-size elements are
//! little-endian and row-major (numpy `tobytes()`); a BYTES element is a 4-byte little-endian length
//! followed by that many bytes. Answers are binary per output when the output's `binary_data`
//! parameter says so, else when the request's `binary_data_output` parameter does.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

mod error;

pub use error::{BinaryTensorError, Side, TensorProblem};

/// The header giving the length of the JSON part (lower case, as KServe 0.21.0 writes it).
pub const HEADER: &str = "inference-header-content-length";

/// Which outputs of an answer the client wants as binary data.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct BinaryOutputs {
    /// The request's `parameters.binary_data_output`.
    all: bool,
    /// Per requested output, its `parameters.binary_data` (it overrides `all`).
    named: BTreeMap<String, bool>,
}

impl BinaryOutputs {
    /// What a request's JSON part asks for.
    pub fn of_request(request: &Value) -> Self {
        let all = request.pointer("/parameters/binary_data_output").and_then(Value::as_bool).unwrap_or(false);
        let named = request
            .get("outputs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|output| {
                let name = output.get("name")?.as_str()?;
                let binary = output.pointer("/parameters/binary_data")?.as_bool()?;
                Some((name.to_owned(), binary))
            })
            .collect();
        BinaryOutputs { all, named }
    }

    pub fn any(&self) -> bool {
        self.all || self.named.values().any(|binary| *binary)
    }

    fn wanted(&self, output: &str) -> bool {
        self.named.get(output).copied().unwrap_or(self.all)
    }
}

/// A tensor element type and its size in bytes (None for BYTES, whose elements are prefixed by
/// their length).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Datatype {
    Bool,
    U8,
    U16,
    U32,
    U64,
    I8,
    I16,
    I32,
    I64,
    F16,
    F32,
    F64,
    Bytes,
}

impl Datatype {
    /// The Open Inference Protocol's tensor data types (KServe 0.21.0 utils/numpy_codec.py).
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "BOOL" => Datatype::Bool,
            "UINT8" => Datatype::U8,
            "UINT16" => Datatype::U16,
            "UINT32" => Datatype::U32,
            "UINT64" => Datatype::U64,
            "INT8" => Datatype::I8,
            "INT16" => Datatype::I16,
            "INT32" => Datatype::I32,
            "INT64" => Datatype::I64,
            "FP16" => Datatype::F16,
            "FP32" => Datatype::F32,
            "FP64" => Datatype::F64,
            "BYTES" => Datatype::Bytes,
            _ => return None,
        })
    }

    fn size(self) -> Option<usize> {
        Some(match self {
            Datatype::Bool | Datatype::U8 | Datatype::I8 => 1,
            Datatype::U16 | Datatype::I16 | Datatype::F16 => 2,
            Datatype::U32 | Datatype::I32 | Datatype::F32 => 4,
            Datatype::U64 | Datatype::I64 | Datatype::F64 => 8,
            Datatype::Bytes => return None,
        })
    }
}

/// A tensor's name, element type and element count, read from its JSON description.
struct Tensor {
    name: String,
    datatype: Datatype,
    elements: usize,
}

impl Tensor {
    fn read(tensor: &Map<String, Value>, side: Side) -> Result<Tensor, BinaryTensorError> {
        let name = tensor.get("name").and_then(Value::as_str).unwrap_or("(unnamed)").to_owned();
        let refuse = |problem| BinaryTensorError::Tensor { side, name: name.clone(), problem };
        let datatype = match tensor.get("datatype") {
            Some(Value::String(datatype)) => {
                Datatype::parse(datatype).ok_or_else(|| refuse(TensorProblem::UnknownDatatype(datatype.clone())))?
            }
            _ => return Err(refuse(TensorProblem::DatatypeNotString)),
        };
        let shape = tensor.get("shape").and_then(Value::as_array);
        let elements = shape
            .and_then(|shape| {
                shape.iter().try_fold(1usize, |product, dim| product.checked_mul(usize::try_from(dim.as_u64()?).ok()?))
            })
            .ok_or_else(|| refuse(TensorProblem::BadShape))?;
        Ok(Tensor { name, datatype, elements })
    }

    fn refuse(&self, side: Side, problem: TensorProblem) -> BinaryTensorError {
        BinaryTensorError::Tensor { side, name: self.name.clone(), problem }
    }
}

/// The JSON request a predictor receives for a binary request: every tensor's raw bytes become its
/// flat `data` list (as KServe's `set_data_from_numpy(binary_data=False)` does) and lose their
/// `binary_data_size`. Returns the JSON and what the client asked of the answer.
pub fn decode_request(body: &[u8], json_length: &str) -> Result<(Vec<u8>, BinaryOutputs), BinaryTensorError> {
    let length: usize =
        json_length.trim().parse().map_err(|_| BinaryTensorError::HeaderNotACount { value: json_length.to_owned() })?;
    if length > body.len() {
        return Err(BinaryTensorError::HeaderBeyondBody { length, body: body.len() });
    }
    let mut request: Value =
        serde_json::from_slice(&body[..length]).map_err(|source| BinaryTensorError::JsonPart { length, source })?;
    let wants = BinaryOutputs::of_request(&request);
    let Some(inputs) = request.get_mut("inputs").and_then(Value::as_array_mut) else {
        return Err(BinaryTensorError::NoInputs);
    };
    let mut rest = &body[length..];
    for input in inputs {
        let Some(input) = input.as_object_mut() else { return Err(BinaryTensorError::InputNotObject) };
        let Some(size) = input.get("parameters").and_then(|parameters| parameters.get("binary_data_size")) else {
            continue;
        };
        let tensor = Tensor::read(input, Side::Input)?;
        let size = size
            .as_u64()
            .and_then(|size| usize::try_from(size).ok())
            .ok_or_else(|| tensor.refuse(Side::Input, TensorProblem::BadBinarySize(size.to_string())))?;
        if input.contains_key("data") {
            return Err(tensor.refuse(Side::Input, TensorProblem::DataAndBinary));
        }
        if size > rest.len() {
            return Err(tensor.refuse(Side::Input, TensorProblem::SizeBeyondData { size, left: rest.len() }));
        }
        let (raw, after) = rest.split_at(size);
        rest = after;
        let data = decode_tensor(&tensor, raw)?;
        input.insert("data".to_owned(), Value::Array(data));
        if let Some(Value::Object(parameters)) = input.get_mut("parameters") {
            parameters.remove("binary_data_size");
            if parameters.is_empty() {
                input.remove("parameters");
            }
        }
    }
    if !rest.is_empty() {
        return Err(BinaryTensorError::TrailingBytes { count: rest.len() });
    }
    let json = serde_json::to_vec(&request)
        .map_err(|source| BinaryTensorError::Write { what: "the decoded request", source })?;
    Ok((json, wants))
}

fn decode_tensor(tensor: &Tensor, raw: &[u8]) -> Result<Vec<Value>, BinaryTensorError> {
    let Some(size) = tensor.datatype.size() else { return decode_bytes(tensor, raw) };
    let needed = tensor.elements.checked_mul(size);
    if needed != Some(raw.len()) {
        let needed = needed.map_or_else(|| "more than addressable".to_owned(), |needed| needed.to_string());
        return Err(tensor.refuse(
            Side::Input,
            TensorProblem::SizeMismatch {
                elements: tensor.elements,
                datatype: tensor.datatype,
                needed,
                size: raw.len(),
            },
        ));
    }
    raw.chunks_exact(size).map(|element| element_value(tensor, element)).collect()
}

fn element_value(tensor: &Tensor, element: &[u8]) -> Result<Value, BinaryTensorError> {
    fn array<const N: usize>(element: &[u8]) -> [u8; N] {
        let mut bytes = [0u8; N];
        bytes.copy_from_slice(element);
        bytes
    }
    let float = |value: f64| {
        serde_json::Number::from_f64(value)
            .map(Value::Number)
            .ok_or_else(|| tensor.refuse(Side::Input, TensorProblem::NotFinite(value)))
    };
    Ok(match tensor.datatype {
        // numpy reads any non-zero byte as True.
        Datatype::Bool => Value::Bool(element[0] != 0),
        Datatype::U8 => element[0].into(),
        Datatype::I8 => i8::from_le_bytes(array(element)).into(),
        Datatype::U16 => u16::from_le_bytes(array(element)).into(),
        Datatype::I16 => i16::from_le_bytes(array(element)).into(),
        Datatype::U32 => u32::from_le_bytes(array(element)).into(),
        Datatype::I32 => i32::from_le_bytes(array(element)).into(),
        Datatype::U64 => u64::from_le_bytes(array(element)).into(),
        Datatype::I64 => i64::from_le_bytes(array(element)).into(),
        Datatype::F16 => float(f16_to_f64(u16::from_le_bytes(array(element))))?,
        Datatype::F32 => float(f64::from(f32::from_le_bytes(array(element))))?,
        Datatype::F64 => float(f64::from_le_bytes(array(element)))?,
        Datatype::Bytes => unreachable!("BYTES elements have no fixed size"),
    })
}

/// BYTES elements as JSON strings (JSON has no other way to carry them, as in KServe, which
/// refuses elements that are not UTF-8 the same way).
fn decode_bytes(tensor: &Tensor, mut raw: &[u8]) -> Result<Vec<Value>, BinaryTensorError> {
    let refuse = |problem| tensor.refuse(Side::Input, problem);
    let mut elements = Vec::with_capacity(tensor.elements.min(raw.len() / 4));
    while !raw.is_empty() {
        let index = elements.len();
        let Some((prefix, after)) = raw.split_first_chunk::<4>() else {
            return Err(refuse(TensorProblem::TruncatedPrefix { index }));
        };
        let length = u32::from_le_bytes(*prefix) as usize;
        if length > after.len() {
            return Err(refuse(TensorProblem::ElementTooLong { index, length, left: after.len() }));
        }
        let (text, after) = after.split_at(length);
        let text = std::str::from_utf8(text).map_err(|_| refuse(TensorProblem::NotUtf8 { index }))?;
        elements.push(Value::String(text.to_owned()));
        raw = after;
    }
    if elements.len() != tensor.elements {
        return Err(refuse(TensorProblem::BytesCount { elements: tensor.elements, found: elements.len() }));
    }
    Ok(elements)
}

/// The binary form of a predictor's JSON answer, with the length of its JSON part, or `None` when
/// no output is wanted as binary or the answer is not an inference response (an error, say).
pub fn encode_response(body: &[u8], wants: &BinaryOutputs) -> Result<Option<(Vec<u8>, usize)>, BinaryTensorError> {
    let Ok(mut response) = serde_json::from_slice::<Value>(body) else { return Ok(None) };
    let Some(outputs) = response.get_mut("outputs").and_then(Value::as_array_mut) else { return Ok(None) };
    let mut raw = Vec::new();
    let mut encoded = false;
    for output in outputs {
        let Some(output) = output.as_object_mut() else { continue };
        let name = output.get("name").and_then(Value::as_str).unwrap_or_default();
        if !wants.wanted(name) {
            continue;
        }
        let tensor = Tensor::read(output, Side::Output)?;
        let Some(data) = output.remove("data") else {
            return Err(tensor.refuse(Side::Output, TensorProblem::NoData));
        };
        let start = raw.len();
        encode_tensor(&tensor, &data, &mut raw)?;
        let parameters = output.entry("parameters").or_insert_with(|| Value::Object(Map::new()));
        let Some(parameters) = parameters.as_object_mut() else {
            return Err(tensor.refuse(Side::Output, TensorProblem::ParametersNotObject));
        };
        parameters.insert("binary_data_size".to_owned(), (raw.len() - start).into());
        encoded = true;
    }
    if !encoded {
        return Ok(None);
    }
    let mut json =
        serde_json::to_vec(&response).map_err(|source| BinaryTensorError::Write { what: "the answer", source })?;
    let json_length = json.len();
    json.extend_from_slice(&raw);
    Ok(Some((json, json_length)))
}

/// Appends one output's elements (flat or nested `data`, row-major) to `raw`.
fn encode_tensor(tensor: &Tensor, data: &Value, raw: &mut Vec<u8>) -> Result<(), BinaryTensorError> {
    let mut elements = Vec::new();
    flatten(data, &mut elements);
    if elements.len() != tensor.elements {
        return Err(
            tensor.refuse(Side::Output, TensorProblem::DataCount { elements: tensor.elements, found: elements.len() })
        );
    }
    for (index, element) in elements.into_iter().enumerate() {
        encode_element(tensor.datatype, element, raw).map_err(|expected| {
            tensor.refuse(Side::Output, TensorProblem::Element { index, value: element.to_string(), expected })
        })?;
    }
    Ok(())
}

fn flatten<'a>(data: &'a Value, into: &mut Vec<&'a Value>) {
    match data {
        Value::Array(items) => items.iter().for_each(|item| flatten(item, into)),
        other => into.push(other),
    }
}

/// Writes one element, or says what it should have been.
fn encode_element(datatype: Datatype, element: &Value, raw: &mut Vec<u8>) -> Result<(), &'static str> {
    /// An integer, also when written as a float with no fraction (`2.0`).
    fn integer<T: TryFrom<i128>>(element: &Value) -> Option<T> {
        let wide = match element {
            Value::Number(number) => {
                number.as_i64().map(i128::from).or_else(|| number.as_u64().map(i128::from)).or_else(|| {
                    number.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 2f64.powi(64)).map(|f| f as i128)
                })
            }
            _ => None,
        }?;
        T::try_from(wide).ok()
    }
    let finite = || element.as_f64().filter(|value| value.is_finite());
    match datatype {
        Datatype::Bool => raw.push(u8::from(element.as_bool().ok_or("true or false")?)),
        Datatype::U8 => raw.push(integer::<u8>(element).ok_or("an integer in 0..=255")?),
        Datatype::I8 => raw.extend(integer::<i8>(element).ok_or("an integer in -128..=127")?.to_le_bytes()),
        Datatype::U16 => raw.extend(integer::<u16>(element).ok_or("a 16-bit unsigned integer")?.to_le_bytes()),
        Datatype::I16 => raw.extend(integer::<i16>(element).ok_or("a 16-bit integer")?.to_le_bytes()),
        Datatype::U32 => raw.extend(integer::<u32>(element).ok_or("a 32-bit unsigned integer")?.to_le_bytes()),
        Datatype::I32 => raw.extend(integer::<i32>(element).ok_or("a 32-bit integer")?.to_le_bytes()),
        Datatype::U64 => raw.extend(integer::<u64>(element).ok_or("a 64-bit unsigned integer")?.to_le_bytes()),
        Datatype::I64 => raw.extend(integer::<i64>(element).ok_or("a 64-bit integer")?.to_le_bytes()),
        Datatype::F16 => {
            let bits = finite().and_then(f64_to_f16).ok_or("a number within FP16's range (|x| < 65520)")?;
            raw.extend(bits.to_le_bytes());
        }
        Datatype::F32 => {
            let value = finite().map(|value| value as f32).filter(|value| value.is_finite());
            raw.extend(value.ok_or("a number within FP32's range")?.to_le_bytes());
        }
        Datatype::F64 => raw.extend(finite().ok_or("a finite number")?.to_le_bytes()),
        Datatype::Bytes => {
            let text = element.as_str().ok_or("a string")?;
            let length = u32::try_from(text.len()).map_err(|_| "a string shorter than 4 GiB")?;
            raw.extend(length.to_le_bytes());
            raw.extend(text.as_bytes());
        }
    }
    Ok(())
}

/// IEEE 754 binary16 to a double (exact).
fn f16_to_f64(bits: u16) -> f64 {
    let sign = if bits & 0x8000 == 0 { 1.0 } else { -1.0 };
    let exponent = i32::from((bits >> 10) & 0x1f);
    let fraction = f64::from(bits & 0x3ff);
    sign * match exponent {
        0 => fraction * 2f64.powi(-24),
        0x1f if fraction == 0.0 => f64::INFINITY,
        0x1f => f64::NAN,
        _ => (1024.0 + fraction) * 2f64.powi(exponent - 25),
    }
}

/// A finite double to binary16, rounded to nearest even; `None` when it would overflow.
fn f64_to_f16(value: f64) -> Option<u16> {
    let sign = if value.is_sign_negative() { 0x8000u16 } else { 0 };
    let magnitude = value.abs();
    if magnitude < 2f64.powi(-14) {
        // Subnormal (or zero): a multiple of 2^-24; 1024 rounds up into the smallest normal.
        return Some(sign | (magnitude * 2f64.powi(24)).round_ties_even() as u16);
    }
    let mut exponent = ((magnitude.to_bits() >> 52) & 0x7ff) as i32 - 1023;
    let mut mantissa = (magnitude / 2f64.powi(exponent) * 1024.0).round_ties_even() as u32;
    if mantissa == 2048 {
        mantissa = 1024;
        exponent += 1;
    }
    if exponent > 15 {
        return None;
    }
    Some(sign | (((exponent + 15) as u16) << 10) | (mantissa - 1024) as u16)
}

#[cfg(test)]
mod tests;
