"""Request validation in the sidecar: a payload that does not match the
schema file is answered 400 with a message that says what is wrong, is
counted as Invocation4XXErrors and never reaches the model."""

from __future__ import annotations

import json

import pytest

from proxy_support import ENDPOINT, cloudwatch, metric_sum, request, runtime_client, start_proxy, start_server, wait_for
from upstream_model import UpstreamModel

SCHEMA = {
    "csv": {"features": [{"name": "age", "type": "integer"}, {"name": "income", "type": "float"},
                         {"name": "city", "type": "string", "optional": True}]},
    "json": {"type": "object", "required": ["features"], "additionalProperties": False,
             "properties": {"features": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}}},
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("validation")
    schema = tmp / "schema.json"
    schema.write_text(json.dumps(SCHEMA))
    model = UpstreamModel().start()
    server = start_server(tmp)
    proxy = start_proxy(tmp, model.url, server.url, "--schema", schema)
    yield model, server, proxy
    proxy.stop()
    server.stop()
    model.stop()


@pytest.mark.parametrize(
    "ctype,body,message",
    [
        ("text/csv", b"42,abc,Paris", "row 1, field 2 (income): expected float, got \"abc\""),
        ("text/csv", b"42,1.5", "row 1: expected 3 fields, got 2"),
        ("text/csv", b"42,1,x\n4.5,1,y", "row 2, field 1 (age): expected integer, got \"4.5\""),
        ("application/json", b'{"features":[1,"two"]}', "$.features[1]: expected number, got string"),
        ("application/json", b'{"features":[1]}', "$.features: expected at least 2 items, got 1"),
        ("application/json", b'{"feature":[1,2]}', "$: required property \"features\" is missing"),
        ("application/json", b'{"features":[1,2', "the payload is not valid JSON"),
    ],
)
def test_bad_payloads_are_rejected_before_the_model(stack, ctype, body, message):
    model, _, proxy = stack
    rt = runtime_client(proxy)
    before = model.invocations
    with pytest.raises(rt.exceptions.ValidationError) as e:
        rt.invoke_endpoint(EndpointName=ENDPOINT, ContentType=ctype, Body=body)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert message in e.value.response["Error"]["Message"]
    assert model.invocations == before


def test_good_payloads_pass_and_rejections_are_counted(stack):
    model, server, proxy = stack
    rt = runtime_client(proxy)
    before = model.invocations
    assert rt.invoke_endpoint(EndpointName=ENDPOINT, ContentType="text/csv", Body=b"42,1000.5,\n43,2,Rome")["Body"].read() == b"1042.5\n45.0"
    rt.invoke_endpoint(EndpointName=ENDPOINT, ContentType="application/json", Body=b'{"features":[1,2]}')
    # other content types have no section in the schema and pass unchecked
    rt.invoke_endpoint(EndpointName=ENDPOINT, ContentType="application/octet-stream", Body=b"\x00\x01")
    assert model.invocations == before + 3
    # the container path is validated too, with a plain error body
    status, _, body = request(proxy.url, "POST", "/invocations", b"x,y,z", {"Content-Type": "text/csv"})
    assert status == 400 and "expected integer" in json.loads(body)["error"]["message"]
    cw = cloudwatch(server)
    # 7 rejected by the parametrized test, 1 here
    wait_for(lambda: metric_sum(cw, "Invocation4XXErrors") == 8, what="8 client errors")
    wait_for(lambda: metric_sum(cw, "Invocations") == 11, what="11 invocations")
    assert metric_sum(cw, "InvocationModelErrors") == 0


def test_bad_schema_file_stops_the_proxy_with_a_reason(tmp_path):
    schema = tmp_path / "schema.json"
    schema.write_text('{"json": {"$ref": "#/definitions/x"}}')
    with pytest.raises(RuntimeError) as e:
        start_proxy(tmp_path, "http://127.0.0.1:9", None, "--schema", schema)
    assert "\"$ref\" is not supported" in str(e.value)
