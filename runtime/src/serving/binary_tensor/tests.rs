//! Tests of the binary tensor codec, with bodies laid out byte by byte as KServe 0.21.0's SDK sends them.

use serde_json::json;

use super::*;

/// A binary request: the JSON part, then the raw tensors.
fn binary_request(json: &Value, raw: &[&[u8]]) -> (Vec<u8>, String) {
    let mut body = serde_json::to_vec(json).expect("json");
    let length = body.len().to_string();
    for part in raw {
        body.extend_from_slice(part);
    }
    (body, length)
}

fn le_f32(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|value| value.to_le_bytes()).collect()
}

fn bytes_elements(elements: &[&[u8]]) -> Vec<u8> {
    let mut raw = Vec::new();
    for element in elements {
        raw.extend((element.len() as u32).to_le_bytes());
        raw.extend_from_slice(element);
    }
    raw
}

fn decoded(body: &[u8], length: &str) -> Value {
    let (json, _) = decode_request(body, length).expect("decodes");
    serde_json::from_slice(&json).expect("decoded JSON")
}

fn refused(body: &[u8], length: &str) -> String {
    decode_request(body, length).expect_err("refused").to_string()
}

#[test]
fn a_kserve_fp32_request_becomes_flat_json_data() {
    let values = [5.1f32, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3];
    let json = json!({
        "id": "r1",
        "model_name": "iris",
        "inputs": [{ "name": "input-0", "shape": [2, 4], "datatype": "FP32",
                     "parameters": { "binary_data_size": 32 } }],
    });
    let (body, length) = binary_request(&json, &[&le_f32(&values)]);
    let request = decoded(&body, &length);
    let expected: Vec<f64> = values.iter().map(|value| f64::from(*value)).collect();
    assert_eq!(request["inputs"][0]["data"], json!(expected));
    assert!(request["inputs"][0].get("parameters").is_none(), "{request}");
    assert_eq!(request["id"], "r1");
    assert_eq!(request["inputs"][0]["shape"], json!([2, 4]));
}

#[test]
fn json_inputs_bytes_inputs_and_other_parameters_are_kept_in_order() {
    let json = json!({
        "inputs": [
            { "name": "a", "shape": [3], "datatype": "BYTES", "parameters": { "binary_data_size": 19, "content_type": "str" } },
            { "name": "b", "shape": [1], "datatype": "INT64", "data": [7] },
            { "name": "c", "shape": [2], "datatype": "INT16", "parameters": { "binary_data_size": 4 } },
        ],
        "outputs": [{ "name": "y", "parameters": { "binary_data": true } }],
    });
    let strings = bytes_elements(&[b"ab", b"", "\u{fc}ber".as_bytes()]);
    assert_eq!(strings.len(), 19);
    let ints: Vec<u8> = [-2i16, 300].iter().flat_map(|value| value.to_le_bytes()).collect();
    let (body, length) = binary_request(&json, &[&strings, &ints]);
    let (decoded_json, wants) = decode_request(&body, &length).expect("decodes");
    let request: Value = serde_json::from_slice(&decoded_json).expect("json");
    assert_eq!(request["inputs"][0]["data"], json!(["ab", "", "\u{fc}ber"]));
    assert_eq!(request["inputs"][0]["parameters"], json!({ "content_type": "str" }));
    assert_eq!(request["inputs"][1]["data"], json!([7]));
    assert_eq!(request["inputs"][2]["data"], json!([-2, 300]));
    assert!(wants.any() && wants.wanted("y") && !wants.wanted("z"));
}

#[test]
fn every_fixed_size_type_decodes_little_endian() {
    let cases: [(&str, Vec<u8>, Value); 11] = [
        ("BOOL", vec![0, 1, 2], json!([false, true, true])),
        ("UINT8", vec![0, 255], json!([0, 255])),
        ("INT8", vec![0x80, 0x7f], json!([-128, 127])),
        ("UINT16", 65535u16.to_le_bytes().to_vec(), json!([65535])),
        ("INT32", (-5i32).to_le_bytes().to_vec(), json!([-5])),
        ("UINT32", u32::MAX.to_le_bytes().to_vec(), json!([u32::MAX])),
        ("INT64", i64::MIN.to_le_bytes().to_vec(), json!([i64::MIN])),
        ("UINT64", u64::MAX.to_le_bytes().to_vec(), json!([u64::MAX])),
        ("FP16", 0x3c00u16.to_le_bytes().to_vec(), json!([1.0])),
        ("FP32", 0.5f32.to_le_bytes().to_vec(), json!([0.5])),
        ("FP64", 0.1f64.to_le_bytes().to_vec(), json!([0.1])),
    ];
    for (datatype, raw, expected) in cases {
        let count = expected.as_array().map_or(0, Vec::len);
        let json = json!({ "inputs": [{ "name": "x", "shape": [count], "datatype": datatype,
                                         "parameters": { "binary_data_size": raw.len() } }] });
        let (body, length) = binary_request(&json, &[&raw]);
        assert_eq!(decoded(&body, &length)["inputs"][0]["data"], expected, "{datatype}");
    }
}

#[test]
fn malformed_binary_requests_are_refused_with_the_reason() {
    let input = |size: Value, shape: Value, datatype: &str| json!({ "inputs": [{ "name": "x", "shape": shape, "datatype": datatype, "parameters": { "binary_data_size": size } }] });
    let four = le_f32(&[1.0, 2.0, 3.0, 4.0]);
    let cases: Vec<(Vec<u8>, String, &str)> = vec![
        {
            let (body, _) = binary_request(&input(json!(16), json!([4]), "FP32"), &[&four]);
            (body, "twelve".to_owned(), "must be a byte count")
        },
        {
            let (body, _) = binary_request(&input(json!(16), json!([4]), "FP32"), &[&four]);
            (body, "100000".to_owned(), "the body has only")
        },
        {
            let (body, length) = binary_request(&input(json!(16), json!([4]), "FP32"), &[&four]);
            let short = (length.parse::<usize>().expect("n") - 3).to_string();
            (body, short, "are not a JSON object")
        },
        {
            let (body, length) = binary_request(&input(json!(32), json!([8]), "FP32"), &[&four]);
            (body, length, "only 16 bytes of binary data are left")
        },
        {
            let (body, length) = binary_request(&input(json!(16), json!([4]), "FP32"), &[&four, b"xx"]);
            (body, length, "2 bytes follow")
        },
        {
            let (body, length) = binary_request(&input(json!(16), json!([3]), "FP32"), &[&four]);
            (body, length, "its shape holds 3 F32 elements (12 bytes) but binary_data_size is 16")
        },
        {
            let (body, length) = binary_request(&input(json!(16), json!([-1, 4]), "FP32"), &[&four]);
            (body, length, "\"shape\" must be a list of non-negative integers")
        },
        {
            let huge = json!([u64::MAX, u64::MAX]);
            let (body, length) = binary_request(&input(json!(16), huge, "FP32"), &[&four]);
            (body, length, "\"shape\" must be a list of non-negative integers")
        },
        {
            let (body, length) = binary_request(&input(json!(-4), json!([4]), "FP32"), &[&four]);
            (body, length, "binary_data_size must be a non-negative integer")
        },
        {
            let (body, length) = binary_request(&input(json!(16), json!([4]), "FP128"), &[&four]);
            (body, length, "unknown datatype \"FP128\"")
        },
        {
            let nan = le_f32(&[f32::NAN]);
            let (body, length) = binary_request(&input(json!(4), json!([1]), "FP32"), &[&nan]);
            (body, length, "is not finite")
        },
        {
            let raw = [2u8, 0, 0];
            let (body, length) = binary_request(&input(json!(3), json!([1]), "BYTES"), &[&raw]);
            (body, length, "element 0 has a truncated 4-byte length prefix")
        },
        {
            let raw = [0xff_u8, 0xff, 0xff, 0xff, b'a'];
            let (body, length) = binary_request(&input(json!(5), json!([1]), "BYTES"), &[&raw]);
            (body, length, "element 0 declares 4294967295 bytes but only 1 remain")
        },
        {
            let raw = bytes_elements(&[&[0xff, 0xfe]]);
            let (body, length) = binary_request(&input(json!(6), json!([1]), "BYTES"), &[&raw]);
            (body, length, "element 0 is not UTF-8 text")
        },
        {
            let raw = bytes_elements(&[b"a", b"b"]);
            let (body, length) = binary_request(&input(json!(10), json!([3]), "BYTES"), &[&raw]);
            (body, length, "its shape holds 3 BYTES elements but the binary data has 2")
        },
        {
            let both = json!({ "inputs": [{ "name": "x", "shape": [1], "datatype": "FP32", "data": [1.0],
                                            "parameters": { "binary_data_size": 4 } }] });
            let (body, length) = binary_request(&both, &[&le_f32(&[1.0])]);
            (body, length, "has both \"data\" and binary_data_size")
        },
        {
            let (body, length) = binary_request(&json!({ "outputs": [] }), &[]);
            (body, length, "no \"inputs\" list")
        },
    ];
    for (body, length, reason) in cases {
        let message = refused(&body, &length);
        assert!(message.contains(reason), "expected {reason:?} in {message:?}");
    }
}

#[test]
fn every_truncation_of_a_binary_request_is_answered_without_panicking() {
    let json = json!({ "inputs": [
        { "name": "s", "shape": [2], "datatype": "BYTES", "parameters": { "binary_data_size": 11 } },
        { "name": "f", "shape": [2], "datatype": "FP64", "parameters": { "binary_data_size": 16 } },
    ] });
    let strings = bytes_elements(&[b"abc", b""]);
    let floats: Vec<u8> = [1.5f64, -2.0].iter().flat_map(|value| value.to_le_bytes()).collect();
    let (body, length) = binary_request(&json, &[&strings, &floats]);
    assert!(decode_request(&body, &length).is_ok());
    for cut in 0..body.len() {
        assert!(decode_request(&body[..cut], &length).is_err(), "a body cut at {cut} was accepted");
    }
}

#[test]
fn answers_are_encoded_for_the_outputs_the_client_asked_for() {
    let answer = json!({
        "model_name": "iris", "model_version": "1", "id": "r1",
        "outputs": [
            { "name": "species", "datatype": "BYTES", "shape": [2], "data": ["setosa", "virginica"] },
            { "name": "scores", "datatype": "FP32", "shape": [2, 2], "data": [[0.5, 0.25], [1.0, 2.0]] },
        ],
    });
    let body = serde_json::to_vec(&answer).expect("json");
    let all = BinaryOutputs::of_request(&json!({ "parameters": { "binary_data_output": true } }));
    let (encoded, length) = encode_response(&body, &all).expect("encodes").expect("binary");
    let head: Value = serde_json::from_slice(&encoded[..length]).expect("json part");
    assert_eq!(head["outputs"][0]["parameters"]["binary_data_size"], 4 + 6 + 4 + 9);
    assert!(head["outputs"][0].get("data").is_none());
    assert_eq!(head["outputs"][1]["parameters"]["binary_data_size"], 16);
    assert_eq!(head["model_name"], "iris");
    let mut expected = bytes_elements(&[b"setosa", b"virginica"]);
    expected.extend(le_f32(&[0.5, 0.25, 1.0, 2.0]));
    assert_eq!(&encoded[length..], &expected[..]);

    // A per-output `binary_data: false` overrides `binary_data_output`.
    let some = BinaryOutputs::of_request(&json!({
        "parameters": { "binary_data_output": true },
        "outputs": [{ "name": "species", "parameters": { "binary_data": false } }],
    }));
    let (encoded, length) = encode_response(&body, &some).expect("encodes").expect("binary");
    let head: Value = serde_json::from_slice(&encoded[..length]).expect("json part");
    assert_eq!(head["outputs"][0]["data"], json!(["setosa", "virginica"]));
    assert_eq!(&encoded[length..], &le_f32(&[0.5, 0.25, 1.0, 2.0])[..]);

    assert!(matches!(encode_response(&body, &BinaryOutputs::default()), Ok(None)));
    assert!(matches!(encode_response(br#"{"error": "bad input"}"#, &all), Ok(None)));
    assert!(matches!(encode_response(b"not json", &all), Ok(None)));
}

#[test]
fn answers_that_do_not_fit_their_datatype_are_refused() {
    let all = BinaryOutputs::of_request(&json!({ "parameters": { "binary_data_output": true } }));
    let cases = [
        (
            json!({ "name": "y", "datatype": "FP32", "shape": [3], "data": [1.0, 2.0] }),
            "shape holds 3 elements but \"data\" has 2",
        ),
        (
            json!({ "name": "y", "datatype": "UINT8", "shape": [1], "data": [256] }),
            "element 0 is 256, expected an integer in 0..=255",
        ),
        (json!({ "name": "y", "datatype": "INT32", "shape": [1], "data": [1.5] }), "expected a 32-bit integer"),
        (json!({ "name": "y", "datatype": "FP16", "shape": [1], "data": [70000.0] }), "FP16's range"),
        (json!({ "name": "y", "datatype": "FP32", "shape": [1], "data": [1e300] }), "FP32's range"),
        (json!({ "name": "y", "datatype": "BYTES", "shape": [1], "data": [3] }), "expected a string"),
        (json!({ "name": "y", "datatype": "BOOL", "shape": [1], "data": [1] }), "expected true or false"),
        (json!({ "name": "y", "datatype": "FP32", "shape": [1] }), "has no \"data\""),
        (json!({ "name": "y", "datatype": "STRING", "shape": [1], "data": ["a"] }), "unknown datatype"),
    ];
    for (output, reason) in cases {
        let body = serde_json::to_vec(&json!({ "model_name": "m", "outputs": [output] })).expect("json");
        let message = encode_response(&body, &all).expect_err("refused").to_string();
        assert!(message.contains(reason), "expected {reason:?} in {message:?}");
    }
}

#[test]
fn encoded_integers_and_floats_decode_to_the_same_values() {
    let all = BinaryOutputs::of_request(&json!({ "parameters": { "binary_data_output": true } }));
    for (datatype, data) in [
        ("INT8", json!([-128, 0, 127])),
        ("UINT16", json!([0, 65535, 2.0])),
        ("INT64", json!([i64::MIN, -1, i64::MAX])),
        ("UINT64", json!([0, u64::MAX, 1])),
        ("FP16", json!([1.0, -0.5, 65504.0])),
        ("FP64", json!([0.1, -1e300, 5e-324])),
        ("BOOL", json!([true, false, true])),
    ] {
        let answer = json!({ "model_name": "m", "outputs": [{ "name": "y", "datatype": datatype, "shape": [3], "data": data }] });
        let (encoded, length) =
            encode_response(&serde_json::to_vec(&answer).expect("json"), &all).expect("encodes").expect("binary");
        let head: Value = serde_json::from_slice(&encoded[..length]).expect("json part");
        let size = head["outputs"][0]["parameters"]["binary_data_size"].clone();
        let request = json!({ "inputs": [{ "name": "y", "datatype": datatype, "shape": [3], "parameters": { "binary_data_size": size } }] });
        let (body, request_length) = binary_request(&request, &[&encoded[length..]]);
        let back = decoded(&body, &request_length);
        let expected: Vec<Value> = data
            .as_array()
            .expect("list")
            .iter()
            .map(|value| {
                if datatype.starts_with("FP") || !value.is_f64() {
                    value.clone()
                } else {
                    json!(value.as_f64().expect("f") as u64)
                }
            })
            .collect();
        assert_eq!(back["inputs"][0]["data"], json!(expected), "{datatype}");
    }
}

#[test]
fn half_precision_converts_exactly_and_rounds_to_nearest_even() {
    assert_eq!(f64_to_f16(1.0), Some(0x3c00));
    assert_eq!(f64_to_f16(-2.0), Some(0xc000));
    assert_eq!(f64_to_f16(65504.0), Some(0x7bff));
    assert_eq!(f64_to_f16(65519.0), Some(0x7bff));
    assert_eq!(f64_to_f16(65520.0), None);
    assert_eq!(f64_to_f16(2f64.powi(-24)), Some(0x0001));
    assert_eq!(f64_to_f16(2f64.powi(-26)), Some(0x0000));
    assert_eq!(f64_to_f16(0.1), Some(0x2e66));
    assert_eq!(f64_to_f16(1.0 + 2f64.powi(-11)), Some(0x3c00), "a tie rounds to the even mantissa");
    assert_eq!(f64_to_f16(1.0 + 3.0 * 2f64.powi(-11)), Some(0x3c02));
    assert!(f16_to_f64(0x7c00).is_infinite() && f16_to_f64(0x7e00).is_nan());
    for bits in 0..=u16::MAX {
        let value = f16_to_f64(bits);
        if value.is_finite() {
            let back = f64_to_f16(value).expect("in range");
            // Negative zero keeps its sign bit; every other value returns to the same bits.
            assert_eq!(back, bits, "{bits:#06x} = {value}");
        }
    }
}
