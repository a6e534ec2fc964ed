use super::*;

fn encode(ev: &Event, types: &ContentTypes) -> serde_json::Value {
    let mut out = Vec::new();
    encode_event(&mut out, ev, types);
    assert_eq!(out.last(), Some(&b'\n'));
    assert_eq!(out.iter().filter(|b| **b == b'\n').count(), 1);
    serde_json::from_slice(&out).unwrap()
}

#[test]
fn csv_record_matches_sagemaker_field_by_field() {
    let ev = Event {
        input: Some(Observed {
            content_type: "text/csv",
            body: b"132,10,182.9,54",
        }),
        output: Some(Observed {
            content_type: "text/csv; charset=utf-8",
            body: b"0.036397725343704224",
        }),
        event_id: "f04a8538-696c-4648-8064-8b680b2e3318",
        inference_id: Some("42"),
        custom_attributes: None,
        inference_time_ms: 1_650_241_308_871,
    };
    let v = encode(&ev, &ContentTypes::default());
    let want = serde_json::json!({
        "captureData": {
            "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT",
                              "data": "132,10,182.9,54", "encoding": "CSV"},
            "endpointOutput": {"observedContentType": "text/csv; charset=utf-8", "mode": "OUTPUT",
                               "data": "0.036397725343704224", "encoding": "CSV"}},
        "eventMetadata": {"eventId": "f04a8538-696c-4648-8064-8b680b2e3318",
                          "inferenceId": "42", "inferenceTime": "2022-04-18T00:21:48Z"},
        "eventVersion": "0"
    });
    assert_eq!(v, want);
}

#[test]
fn other_types_and_invalid_utf8_are_base64() {
    let ev = Event {
        input: Some(Observed {
            content_type: "application/x-npy",
            body: &[0, 1, 2, 255],
        }),
        output: Some(Observed {
            content_type: "application/json",
            body: &[0xff, 0xfe],
        }),
        event_id: "e",
        inference_id: None,
        custom_attributes: Some("a=b"),
        inference_time_ms: 0,
    };
    let v = encode(&ev, &ContentTypes::default());
    assert_eq!(v["captureData"]["endpointInput"]["data"], "AAEC/w==");
    assert_eq!(v["captureData"]["endpointInput"]["encoding"], "BASE64");
    assert_eq!(v["captureData"]["endpointOutput"]["encoding"], "BASE64");
    assert_eq!(v["eventMetadata"]["customAttributes"], "a=b");
    assert!(v["eventMetadata"].get("inferenceId").is_none());
    assert_eq!(v["eventMetadata"]["inferenceTime"], "1970-01-01T00:00:00Z");
    let rec = CaptureRecord::parse(serde_json::to_vec(&v).unwrap().as_slice()).unwrap();
    let input = rec.capture_data.endpoint_input.unwrap();
    assert_eq!(input.bytes().unwrap(), vec![0, 1, 2, 255]);
}

#[test]
fn input_only_record_has_no_output_slot() {
    let ev = Event {
        input: Some(Observed {
            content_type: "Application/JSON; charset=utf-8",
            body: br#"{"a":[1,2]}"#,
        }),
        output: None,
        event_id: "e",
        inference_id: None,
        custom_attributes: None,
        inference_time_ms: 1_000,
    };
    let v = encode(&ev, &ContentTypes::default());
    assert_eq!(v["captureData"]["endpointInput"]["encoding"], "JSON");
    assert_eq!(v["captureData"]["endpointInput"]["data"], r#"{"a":[1,2]}"#);
    assert!(v["captureData"].get("endpointOutput").is_none());
}

#[test]
fn configured_content_types_are_text() {
    let types = ContentTypes::new(
        vec!["text/csv".into(), "text/plain".into()],
        vec!["application/jsonlines".into()],
    )
    .unwrap();
    assert_eq!(types.classify("text/plain; charset=utf-8"), Encoding::Csv);
    assert_eq!(types.classify("application/jsonlines"), Encoding::Json);
    assert_eq!(types.classify("application/json"), Encoding::Base64);
    assert!(ContentTypes::new(vec![], vec!["a/b".into()]).is_err());
    assert!(ContentTypes::new(vec!["csv".into()], vec!["a/b".into()]).is_err());
}

#[test]
fn parse_rejects_what_sagemaker_would_not_write() {
    let ok = r#"{"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT","data":"1","encoding":"CSV"}},"eventMetadata":{"eventId":"x","inferenceTime":"2024-01-02T03:04:05Z"},"eventVersion":"0"}"#;
    let rec = CaptureRecord::parse(ok.as_bytes()).unwrap();
    assert_eq!(rec.inference_time_ms(), 1_704_164_645_000);
    let cases = [
        (ok.replace("\"INPUT\"", "\"OUTPUT\""), "mode must be \"INPUT\""),
        (ok.replace("\"CSV\"", "\"TEXT\""), "encoding must be CSV, JSON or BASE64"),
        (ok.replace("2024-01-02T03:04:05Z", "yesterday"), "not an ISO-8601 time"),
        (ok.replace("\"eventVersion\":\"0\"", "\"eventVersion\":\"1\""), "eventVersion"),
        (ok.replace("\"x\"", "\"\""), "eventId must be"),
        (
            ok.replace("\"CSV\"", "\"BASE64\"").replace("\"data\":\"1\"", "\"data\":\"%%%\""),
            "not valid base64",
        ),
        (
            r#"{"captureData":{},"eventMetadata":{"eventId":"x","inferenceTime":"2024-01-02T03:04:05Z"},"eventVersion":"0"}"#.to_string(),
            "must hold endpointInput",
        ),
        ("{\"captureData\":1}".to_string(), "not a capture record"),
    ];
    for (line, want) in cases {
        let e = CaptureRecord::parse(line.as_bytes()).unwrap_err();
        assert!(e.to_string().contains(want), "{line}: {e}");
        assert_eq!(e.kind(), crate::ErrorKind::InvalidParameter);
    }
}

#[test]
fn ground_truth_parse() {
    let ok = r#"{"groundTruthData":{"data":"1","encoding":"CSV"},"eventMetadata":{"eventId":"42"},"eventVersion":"0"}"#;
    let r = GroundTruthRecord::parse(ok.as_bytes()).unwrap();
    assert_eq!(r.event_metadata.event_id, "42");
    let e = GroundTruthRecord::parse(ok.replace("CSV", "JSON").as_bytes()).unwrap_err();
    assert!(e.to_string().contains("must be \"CSV\""), "{e}");
    let e = GroundTruthRecord::parse(br#"{"groundTruthData":{"data":"1"}}"#).unwrap_err();
    assert!(e.to_string().contains("missing field"), "{e}");
}

/// Ingest's borrowed check and the owned parse accept and refuse the same
/// lines, and agree on the time.
#[test]
fn check_and_parse_agree() {
    let ok = r#"{"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT","data":"1,\"a\\nb\"","encoding":"CSV"}},"eventMetadata":{"eventId":"e1","inferenceTime":"2024-01-02T03:04:05Z","customAttributes":"x=1"},"eventVersion":"0"}"#;
    assert_eq!(
        CaptureRecord::check(ok.as_bytes()).unwrap(),
        1_704_164_645_000
    );
    assert!(CaptureRecord::parse(ok.as_bytes()).is_ok());
    for bad in [
        ok.replace(r#""customAttributes":"x=1""#, r#""customAttributes":1"#),
        ok.replace(r#""eventVersion":"0""#, r#""eventVersion":"1""#),
        ok.replace("INPUT", "OUTPUT"),
        ok.replace(r#""encoding":"CSV""#, r#""encoding":"BASE64""#),
        ok.replace("2024-01-02T03:04:05Z", "yesterday"),
        ok.replace(r#""eventId":"e1""#, r#""eventId":"""#),
        ok.replace(r#""eventId":"e1""#, r#""eventId":7"#),
        ok[..ok.len() - 1].to_string(),
    ] {
        assert!(CaptureRecord::check(bad.as_bytes()).is_err(), "{bad}");
        assert!(CaptureRecord::parse(bad.as_bytes()).is_err(), "{bad}");
    }
}

/// Lines as the sidecar writes them: every shape of slot, escapes, text
/// that is not ASCII, binary payloads, optional metadata.
fn sidecar_lines() -> Vec<Vec<u8>> {
    let types = ContentTypes::default();
    let csv = Observed {
        content_type: "text/csv",
        body: b"39,State-gov,77516,\"Bachelors, \\\"BS\\\"\",13\x01\n",
    };
    let json = Observed {
        content_type: "application/json",
        body: "{\"instances\":[[1.5,\"caf\u{e9}\",\"\u{1F600}\\u00e9\"]],\"tab\":\"\t\"}"
            .as_bytes(),
    };
    let binary = Observed {
        content_type: "application/x-npy",
        body: &[0x93, b'N', b'U', b'M', 0, 0xFF, 0x1F],
    };
    let out = Observed {
        content_type: "text/csv; charset=utf-8",
        body: b"0.73",
    };
    let mut lines = Vec::new();
    for (input, output) in [
        (Some(csv), Some(out)),
        (Some(json), Some(json)),
        (Some(binary), Some(binary)),
        (Some(csv), None),
        (None, Some(out)),
    ] {
        for (inference_id, custom) in [
            (None, None),
            (Some("req-42"), None),
            (Some("req-42"), Some("trace=\"a\\b\"; x=1")),
        ] {
            let ev = Event {
                input,
                output,
                event_id: "8f1e7f86-1b1a-4c3e-9d9f-0c1f1c2a9b11",
                inference_id,
                custom_attributes: custom,
                inference_time_ms: 1_704_164_645_123,
            };
            let mut line = Vec::new();
            encode_event(&mut line, &ev, &types);
            line.pop();
            lines.push(line);
        }
    }
    lines
}

/// Every record the sidecar writes takes the fast path, with the same time
/// as the full parser.
#[test]
fn sidecar_records_take_the_fast_path() {
    for line in sidecar_lines() {
        let text = String::from_utf8_lossy(&line).into_owned();
        let full = CaptureRecord::check_full(&line).unwrap();
        assert_eq!(full, 1_704_164_645_000, "{text}");
        assert_eq!(canonical::check(&line), Some(full), "{text}");
    }
}

/// The fast path only ever accepts what the full parser accepts: over every
/// truncation and a set of one-byte changes at every position of every
/// sidecar line, a line the fast path takes is taken by the full parser with
/// the same time. Lines it passes on still get the full parser's answer.
#[test]
fn fast_path_never_accepts_what_the_parser_refuses() {
    let swaps: &[u8] = &[
        b'"', b'\\', b'{', b'}', b',', b':', b' ', b'u', b'0', b'9', b'a', b'F', b'Z', b'/', 0x00,
        0x1F, 0x7F, 0x80, 0xC3, 0xFF,
    ];
    let (mut taken, mut tried) = (0, 0);
    let mut agree = |line: &[u8]| {
        tried += 1;
        if let Some(t) = canonical::check(line) {
            taken += 1;
            assert_eq!(
                CaptureRecord::check_full(line).ok(),
                Some(t),
                "{}",
                String::from_utf8_lossy(line)
            );
        }
    };
    for line in sidecar_lines() {
        for n in 0..line.len() {
            agree(&line[..n]);
        }
        let mut m = line.clone();
        for i in 0..line.len() {
            for &b in swaps {
                m[i] = b;
                agree(&m);
            }
            m[i] = line[i];
        }
    }
    // Some changes keep a valid record (a digit of the time, a letter of
    // the data), so the fast path did take part of them.
    assert!(taken > 1000 && taken < tried / 2, "{taken} of {tried}");
}

/// Valid records in another form (key order, spacing, extra fields) are
/// still accepted, by the full parser; broken ones are refused with its errors.
#[test]
fn other_forms_fall_back_to_the_full_parser() {
    let ok = r#"{"eventVersion":"0", "eventMetadata":{"inferenceTime":"2024-01-02T03:04:05Z","eventId":"x","invocationSource":"s"},"captureData":{"endpointOutput":{"data":"1","mode":"OUTPUT","encoding":"CSV","observedContentType":"text/csv"}}}"#;
    assert_eq!(canonical::check(ok.as_bytes()), None);
    assert_eq!(
        CaptureRecord::check(ok.as_bytes()).unwrap(),
        1_704_164_645_000
    );
    let line = &sidecar_lines()[0];
    let text = std::str::from_utf8(line).unwrap();
    for (bad, want) in [
        (
            text.replace("\"INPUT\"", "\"OUTPUT\""),
            "mode must be \"INPUT\"",
        ),
        (
            text.replace("\"eventVersion\":\"0\"", "\"eventVersion\":\"1\""),
            "eventVersion",
        ),
        (
            text.replace("2024-01-02T03:04:05Z", "2024-13-02T03:04:05Z"),
            "not an ISO-8601 time",
        ),
        (text.replace("\"CSV\"", "\"BASE64\""), "not valid base64"),
        (text.replace("77516", "77\u{1}516"), "control character"),
    ] {
        let e = CaptureRecord::check(bad.as_bytes()).unwrap_err();
        assert!(e.to_string().contains(want), "{bad}: {e}");
    }
}

/// The hand-written encoder writes exactly what serde_json writes for the
/// same record, over payloads that need every kind of escape, text that is
/// not UTF-8, base64 types, and each optional field present and absent.
#[test]
fn hand_written_records_are_byte_for_byte_serde_json() {
    let bodies: [&[u8]; 8] = [
        b"",
        b"132,10,182.9,54",
        b"{\"a\": [1, 2.5, \"x\\\"y\"], \"b\": null}",
        b"line1\nline2\r\n\ttab\x08\x0c\x01\x1f\x7f end",
        "ünïcödé / 漢字 \u{2028} 🙂".as_bytes(),
        b"\xff\xfe not utf-8",
        b"a",
        b"ab",
    ];
    let types = ContentTypes::default();
    let content_types = [
        "text/csv",
        "Application/JSON; charset=utf-8",
        "application/x-npy",
        "text/\"odd\"",
    ];
    let mut n = 0;
    for (i, body) in bodies.iter().enumerate() {
        for (j, ct) in content_types.iter().enumerate() {
            for shape in 0..4 {
                let observed = Observed {
                    content_type: ct,
                    body,
                };
                let other = Observed {
                    content_type: content_types[(j + 1) % content_types.len()],
                    body: bodies[(i + 3) % bodies.len()],
                };
                let ev = Event {
                    input: (shape != 1).then_some(observed),
                    output: (shape != 2).then_some(other),
                    event_id: "f04a8538-696c-4648-8064-8b680b2e3318",
                    inference_id: (shape % 2 == 0).then_some("id \"7\"\t/"),
                    custom_attributes: (shape >= 2).then_some("c=1\\2"),
                    inference_time_ms: 1_650_241_308_871 + (i * 1000 + j) as i64,
                };
                let (mut ours, mut reference) = (Vec::new(), Vec::new());
                encode_event(&mut ours, &ev, &types);
                encode_event_serde(&mut reference, &ev, &types);
                assert_eq!(
                    String::from_utf8_lossy(&ours),
                    String::from_utf8_lossy(&reference)
                );
                n += 1;
            }
        }
    }
    assert_eq!(n, 128);
}
