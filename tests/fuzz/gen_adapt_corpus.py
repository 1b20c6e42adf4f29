#!/usr/bin/env python3
"""Write the seed corpus of fuzz_adapt (tests/fuzz/corpus/adapt/) in the input layout that
tests/fuzz/fuzz_adapt.c documents: flags byte, optional int64 timestamp, up to 3 headers,
value. Run from anywhere; it rewrites the directory's generated files."""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "adapt")


def record(value, headers=(), ts=None, tombstone=False):
    assert len(headers) <= 3
    flags = len(headers) | (4 if tombstone else 0) | (8 if ts is not None else 0)
    b = bytes([flags])
    if ts is not None:
        b += struct.pack("<q", ts)
    for k, v in headers:
        k = k.encode() if isinstance(k, str) else k
        b += bytes([len(k)]) + k
        if v is None:
            b += bytes([255])
        else:
            v = v.encode() if isinstance(v, str) else v
            b += bytes([len(v)]) + v
    return b + (value.encode() if isinstance(value, str) else value)


CE = [("ce_specversion", "1.0"), ("ce_id", "689b15e7"), ("ce_type", "org.kubeflow.serving.inference.request")]
CE_RESP = [("ce_specversion", "1.0"), ("ce_id", "689b15e7"), ("ce_type", "org.kubeflow.serving.inference.response")]
OIP_REQ = ('{"id":"42","inputs":[{"name":"input0","shape":[2,2],"datatype":"UINT32","data":[1,2,3,4]},'
           '{"name":"input1","shape":[3],"datatype":"BOOL","data":[true]}],"outputs":[{"name":"output0"}]}')
OIP_RESP = ('{"model_name":"mymodel","model_version":"1","id":"42","outputs":[{"name":"output0",'
            '"shape":[3,2],"datatype":"FP32","data":[1.0,1.1,2.0,2.1,3.0,3.1]}]}')
OPENAI = ('{"request":{"model":"gpt-4.1","messages":[{"role":"developer","content":"You are a helpful '
          'assistant."},{"role":"user","content":"Hello!"}],"tools":[{}]},"response":{"id":"chatcmpl-B9MBs8",'
          '"object":"chat.completion","created":1741569952,"model":"gpt-4.1-2025-04-14","choices":[{"index":0,'
          '"message":{"role":"assistant","content":"Hello! How can I assist you today?","refusal":null},'
          '"finish_reason":"stop"}],"usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29}}}')
STRUCTURED = ('{"specversion":"1.0","type":"com.example.someevent","source":"/mycontext/subcontext",'
              '"id":"1234-1234-1234","time":"2018-04-05T03:56:24Z","datacontenttype":"application/json",'
              '"data":{"input":{"amount":42.5}}}')

SEEDS = {
    "native": record('{"model":{"id":"fraud-scorer"},"input":{"amount":129.5}}'),
    "tombstone": record("", CE[:2], tombstone=True),
    "empty": b"",
    "oip-request": record(OIP_REQ, ts=1764244800000),
    "oip-response": record(OIP_RESP, ts=1764244800250),
    "oip-pair": record('{"request":%s,"response":%s}' % (OIP_REQ, OIP_RESP)),
    "oip-nested": record('{"id":"n","inputs":[{"name":"a","shape":[2,2],"data":[[1,2],[3,[4,[5]]]]}]}',
                         [("x-request-id", "n")]),
    "ce-binary-kserve-v1-req": record('{"instances": [[6.8, 2.8, 4.8, 1.4]]}', CE, ts=1680680393510),
    "ce-binary-kserve-v1-resp": record('{"predictions": [1]}', CE_RESP, ts=1680680393512),
    "ce-structured": record(STRUCTURED, [("content-type", "application/cloudevents+json; charset=UTF-8")]),
    "ce-structured-nohdr": record(STRUCTURED),
    "ce-base64": record('{"specversion":"1.0","type":"t","source":"s","id":"i","data_base64":'
                        '"eyJpbnB1dCI6eyJhbW91bnQiOjF9fQ=="}'),
    "ce-bad-utf8-header": record('{"input":{}}', [("ce_specversion", "1.0"), ("ce_type", b"\xc3\x28"),
                                                  ("ce_id", None)]),
    "ce-avro": record(b"\x02\x06abc", [("ce_specversion", "1.0"), ("content-type", "application/avro")]),
    "openai": record(OPENAI),
    "openai-bare": record('{"id":"chatcmpl-abc123","object":"chat.completion","model":"gpt-4o-mini","choices":'
                          '[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_abc123",'
                          '"type":"function"}]},"finish_reason":"tool_calls"}]}'),
    "openai-error": record('{"request":{"model":"gpt-4o","messages":[]},"response":{"error":{"type":"requests"}}}'),
    "big-numbers": record('{"id":"b","inputs":[{"name":"a","data":[18446744073709551615,1e308,-0.0]}]}',
                          ts=-1000),
    "dup-keys": record('{"id":"1","id":"2","inputs":[]}'),
    "deep": record('{"id":"d","inputs":[{"name":"a","data":' + "[" * 40 + "1" + "]" * 40 + "}]}"),
}

if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(OUT, name + ".bin"), "wb") as f:
            f.write(data)
