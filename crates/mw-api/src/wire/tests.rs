//! Deterministic mutation tests of the three decoders: thousands of corrupted
//! variants of real requests must each decode or fail cleanly, and whatever
//! decodes must run through every operation without a panic.

use super::{cbor, json, query};
use crate::fuzzing::{run_operations, run_operations_on_bytes};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        match rng.below(5) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = rng.next() as u8;
            }
            1 if !v.is_empty() => {
                let i = rng.below(v.len());
                v.truncate(i);
            }
            2 => {
                let i = rng.below(v.len() + 1);
                v.insert(i, rng.next() as u8);
            }
            3 if !v.is_empty() => {
                let i = rng.below(v.len());
                let j = rng.below(v.len());
                v.swap(i, j);
            }
            _ => {
                let i = rng.below(v.len() + 1);
                let chunk: Vec<u8> = v[i..].iter().take(16).copied().collect();
                v.splice(i..i, chunk);
            }
        }
    }
    v
}

fn now_secs() -> i64 {
    mw_model::time::now_ms() / 1000
}

#[test]
fn json_decoder_survives_mutations() {
    let t = now_secs();
    let seeds = [
        format!(
            r#"{{"Namespace":"Fz","MetricData":[{{"MetricName":"Latency","Dimensions":[{{"Name":"S","Value":"a"}}],"Timestamp":{t},"Value":12.5,"Unit":"Milliseconds","StorageResolution":1}},{{"MetricName":"L","Values":[1.0,2.0],"Counts":[3,1]}},{{"MetricName":"B","StatisticValues":{{"SampleCount":4,"Sum":100,"Minimum":10,"Maximum":40}}}}]}}"#
        ),
        format!(
            r#"{{"MetricDataQueries":[{{"Id":"m1","MetricStat":{{"Metric":{{"Namespace":"Fz","MetricName":"Latency"}},"Period":60,"Stat":"p99"}}}},{{"Id":"e1","Expression":"FILL(m1, 0) * 2 + SUM(METRICS())"}}],"StartTime":{},"EndTime":{t},"ScanBy":"TimestampAscending","MaxDatapoints":10}}"#,
            t - 3600
        ),
        format!(
            r#"{{"Namespace":"Fz","MetricName":"Latency","StartTime":{},"EndTime":{t},"Period":60,"Statistics":["Sum"],"ExtendedStatistics":["p50","TM(10%:90%)"]}}"#,
            t - 3600
        ),
        // Alarms: one metric, metric math, a composite, SetAlarmState, history.
        r#"{"AlarmName":"fz-a","MetricName":"Latency","Namespace":"Fz","Statistic":"Average","Dimensions":[{"Name":"S","Value":"a"}],"Period":10,"EvaluationPeriods":3,"DatapointsToAlarm":2,"Threshold":5.0,"ComparisonOperator":"GreaterThanThreshold","TreatMissingData":"breaching","AlarmActions":["arn:fuzz:a"],"AlarmNames":["fz-a","fz-c"],"AlarmRule":"ALARM(fz-a) OR NOT OK("fz-a")","StateValue":"ALARM","StateReason":"r","StateReasonData":"{"a":1}","MaxRecords":2}"#.to_string(),
        r#"{"AlarmName":"fz-m","Metrics":[{"Id":"m1","MetricStat":{"Metric":{"Namespace":"Fz","MetricName":"Latency"},"Period":60,"Stat":"p90"},"ReturnData":false},{"Id":"e1","Expression":"m1 * 2","ReturnData":true}],"EvaluationPeriods":1,"Threshold":1,"ComparisonOperator":"LessThanThreshold","EvaluateLowSampleCountPercentile":"ignore","HistoryItemType":"StateUpdate","ScanBy":"TimestampAscending"}"#.to_string(),
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..3000 {
        let seed = seeds[rng.below(seeds.len())].as_bytes();
        let body = mutate(&mut rng, seed);
        if let Ok(node) = json::decode(&body) {
            let _ = json::encode(&node);
        }
        run_operations_on_bytes(&body, false);
    }
}

#[test]
fn cbor_decoder_survives_mutations() {
    // wire_examples.txt section C: botocore's PutMetricData and GetMetricData.
    let seeds = [
        "a2694e616d6573706163656a4d794170702f546573746a4d65747269634461746181a66a4d65747269634e616d65674c6174656e63796a44696d656e73696f6e7381a2644e616d6567536572766963656556616c7565636170696954696d657374616d70c11a677602256556616c7565fb402900000000000064556e69746c4d696c6c697365636f6e64737153746f726167655265736f6c7574696f6e01",
        "a5714d6574726963446174615175657269657382a3624964626d316a4d657472696353746174a4664d6574726963a3694e616d6573706163656a4d794170702f546573746a4d65747269634e616d65674c6174656e63796a44696d656e73696f6e7381a2644e616d6567536572766963656556616c75656361706966506572696f64183c64537461746370393964556e69746c4d696c6c697365636f6e64736a52657475726e44617461f4a36249646265316a45787072657373696f6e646d312a32654c6162656c67446f75626c656469537461727454696d65c11a6775f41567456e6454696d65c11a67760225665363616e42797254696d657374616d70417363656e64696e676d4d617844617461706f696e74731864",
    ];
    let seeds: Vec<Vec<u8>> = seeds.iter().map(|h| hex::decode(h).unwrap()).collect();
    for s in &seeds {
        assert!(cbor::decode(s).is_ok());
    }
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    for _ in 0..3000 {
        let k = rng.below(seeds.len());
        let body = mutate(&mut rng, &seeds[k]);
        if let Ok(node) = cbor::decode(&body) {
            let _ = cbor::encode(&node);
        }
        run_operations_on_bytes(&body, true);
    }
}

#[test]
fn query_decoder_survives_mutations() {
    let seeds = [
        "Action=PutMetricData&Version=2010-08-01&Namespace=Fz&MetricData.member.1.MetricName=Latency&MetricData.member.1.Dimensions.member.1.Name=Service&MetricData.member.1.Dimensions.member.1.Value=api&MetricData.member.1.Value=12.5&MetricData.member.2.MetricName=V&MetricData.member.2.Values.member.1=1.0&MetricData.member.2.Counts.member.1=3.0",
        "Action=ListMetrics&Version=2010-08-01&Namespace=Fz&Dimensions.member.1.Name=Service",
        "Action=GetMetricData&Version=2010-08-01&MetricDataQueries.member.1.Id=m1&MetricDataQueries.member.1.Expression=SEARCH(%27%7BFz%7D%20Latency%27%2C%20%27Sum%27%2C%2060)&StartTime=2020-01-01T00%3A00%3A00Z&EndTime=2030-01-01T00%3A00%3A00Z",
        "Action=PutMetricAlarm&Version=2010-08-01&AlarmName=fq&MetricName=Latency&Namespace=Fz&Statistic=Sum&Period=60&EvaluationPeriods=2&Threshold=3&ComparisonOperator=LessThanOrEqualToThreshold&OKActions.member.1=arn%3Afuzz%3Aok&AlarmNames.member.1=fq&AlarmRule=ALARM(fq)&StateValue=OK&StateReason=x",
    ];
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    for _ in 0..3000 {
        let k = rng.below(seeds.len());
        let body = mutate(&mut rng, seeds[k].as_bytes());
        if let Ok(q) = query::decode(&body) {
            let _ = query::encode(&q.action, Some(&q.input), "r");
            run_operations(&q.input);
        }
    }
}

/// The seeds themselves reach the alarm engine: the mutation tests above
/// exercise alarm parsing and evaluation, not only early rejections.
#[test]
fn alarm_seeds_create_alarms() {
    let seed = r#"{"AlarmName":"fz-seed","MetricName":"Latency","Namespace":"Fz","Statistic":"Average","Period":60,"EvaluationPeriods":1,"Threshold":5.0,"ComparisonOperator":"GreaterThanThreshold","AlarmNames":["fz-seed"]}"#;
    run_operations_on_bytes(seed.as_bytes(), false);
    let api = crate::fuzzing::api().expect("scratch api");
    let engine = api.alarms.as_ref().expect("alarm engine");
    // DeleteAlarms ran last in the operation list, so the alarm is gone again,
    // but its history shows it was created, evaluated and deleted.
    let items = engine
        .history(&mw_alarms::engine::HistoryQuery {
            alarm_name: Some("fz-seed".into()),
            limit: 10,
            ..Default::default()
        })
        .expect("history");
    let summaries: Vec<&str> = items.iter().map(|h| h.summary.as_str()).collect();
    assert!(
        summaries.contains(&"Alarm \"fz-seed\" created"),
        "{summaries:?}"
    );
    assert!(
        summaries.contains(&"Alarm \"fz-seed\" deleted"),
        "{summaries:?}"
    );
}
