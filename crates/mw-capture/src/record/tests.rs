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
