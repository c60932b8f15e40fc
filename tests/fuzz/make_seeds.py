#!/usr/bin/env python3
# Writes the seed corpora of the config, http, parser and spool fuzz targets (tests/fuzz/corpus/<target>/).
# Seeds are committed; run this again only to change them. The forward seeds predate it.
import os, struct, zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- config: classic format; no '/' anywhere (the target skips such inputs: includes stay in its sandbox)
put("config", "firelens", """[INPUT]
    Name forward
    unix_path fluent.sock
    Mem_Buf_Limit 25MB
[INPUT]
    Name forward
    Listen 127.0.0.1
    Port 24224
[INPUT]
    Name tcp
    Tag firelens-healthcheck
    Listen 127.0.0.1
    Port 8877
[FILTER]
    Name grep
    Match *
    Regex log ^\\d+ ERROR
    Exclude log debug
[FILTER]
    Name record_modifier
    Match *
    Record ecs_cluster prod
    Record ecs_task_arn arn:aws:ecs:us-east-1:1:task
[OUTPUT]
    Name null
    Match firelens-healthcheck
[OUTPUT]
    Name datadog
    Match app-firelens*
    Host http-intake.logs.datadoghq.com
    TLS on
    apikey abcdef0123456789secret
    dd_service app
    dd_source nodejs
    dd_tags env:prod,team:x
    compress gzip
    provider ecs
""")
put("config", "service_and_env", """# comment
[SERVICE]
    Flush        ${FLUSH}
    Grace        30
    Log_Level    debug
    HTTP_Server  On
    HTTP_Listen  127.0.0.1
    HTTP_Port    0
    Parsers_File parsers.conf
    workers      2
@SET tag=app.${NOPE}
[INPUT]
    Name dummy
    Tag  ${tag}
    Dummy {"log":"x"}
    Rate 5
[FILTER]
    Name parser
    Match *
    Key_Name log
    Parser j
    Reserve_Data On
[OUTPUT]
    Name stdout
    Match *
    Format json_lines
""")
put("config", "includes", "@INCLUDE in.conf\n@include self.conf\n")
put("config", "include_glob", "@SET f=in\n@INCLUDE ${f}.conf\n@INCLUDE nothing*.conf\n[INPUT]\n    Name stdin\n")
put("config", "aggregator_tier", """[INPUT]
    Name forward
    Listen 127.0.0.1
    Port 0
    shared_key hunter2hunter2
    self_hostname agg1
    security.users alice pa55word-alice
    max_connections 100
    idle_timeout 30
    buffer_max_size 6M
    buffer_chunk_size 1M
[OUTPUT]
    Name forward
    Match *
    Host 127.0.0.1
    Port 24225
    shared_key hunter2hunter2
    username bob
    password s3cret-bob-password
    require_ack_response on
    compress gzip
    tls on
    tls.verify off
""")
put("config", "cloudwatch", """[INPUT]
    Name dummy
[OUTPUT]
    Name cloudwatch_logs
    Match *
    region us-east-1
    log_group_name app-logs
    log_stream_prefix ecs-
    auto_create_group On
    log_retention_days 7
    role_arn arn:aws:iam::123456789012:role:x
[OUTPUT]
    Name cloudwatch
    Match *
    region eu-west-1
    log_group_name g
    log_stream_name s
""")
put("config", "filters", """[INPUT]
    Name dummy
    Tag app
[FILTER]
    Name modify
    Match *
    Add k v
    Rename a b
[FILTER]
    Name rewrite_tag
    Match app
    Rule $log ^(err) errors false
[FILTER]
    Name multiline
    Match *
    multiline.key_content log
    multiline.parser docker, cri
[FILTER]
    Name ecs
    Match *
    ADD cluster $ClusterName
[OUTPUT]
    Name null
    Match_Regex ^(app|errors)$
    Retry_Limit no_limits
""")
put("config", "errors", """[INPUT]
    Name forwrd
    Prot 24224
[OUTPUT]
    Name datadog
    apikey
[BROKEN
""")
put("config", "bad_values", """[INPUT]
    Name forward
    Port 99999999
    buffer_max_size 12XB
    unix_perm 0999
[OUTPUT]
    Name datadog
    Match *
    apikey topsecretapikey000
    compress brotli
    http2 maybe
""")

# ---- http: flags, split (u16 LE), server bytes
def http(flags, part1, part2=b""):
    if isinstance(part1, str):
        part1 = part1.encode()
    if isinstance(part2, str):
        part2 = part2.encode()
    return bytes([flags]) + struct.pack("<H", len(part1)) + part1 + part2

put("http", "h1_ok", http(0, "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n", "{}"))
put("http", "h1_chunked", http(0, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", "0\r\nX-Trailer: y\r\n\r\n"))
put("http", "h1_close_delimited", http(16, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", "a body longer than sixteen bytes"))
put("http", "h1_retry_after", http(0, "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 0\r\n\r\n"))
put("http", "h1_two_keepalive", http(4, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 3\r\n\r\nbig"))
put("http", "h1_garbage", http(0, "HTTP/1.1 2x0 OK\r\n\r\n"))
put("http", "h1_unsolicited", http(8, "", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\n"))
put("http", "proxy_connect", http(2, "HTTP/1.1 200 Connection established\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
put("http", "proxy_refused", http(2, "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n"))

def frame(ftype, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", sid) + payload

SETTINGS = frame(4, 0, 0, struct.pack(">HI", 3, 100) + struct.pack(">HI", 4, 1 << 20))
SETTINGS_ACK = frame(4, 1, 0)
# HPACK: 0x88 = :status 200 (static index 8); 0x8d = :status 404; literal "retry-after: 1"
HEADERS_200 = frame(1, 4, 1, bytes([0x88]))
HEADERS_429 = frame(1, 4, 1, bytes([0x48, 0x03]) + b"429" + bytes([0x40, 0x0b]) + b"retry-after" + bytes([0x01]) + b"3")
DATA_END = frame(0, 1, 1, b'{"ok":true}')
put("http", "h2_ok", http(1, SETTINGS, SETTINGS_ACK + HEADERS_200 + DATA_END))
put("http", "h2_headers_end_stream", http(1, SETTINGS, SETTINGS_ACK + frame(1, 5, 1, bytes([0x8d]))))
put("http", "h2_retry_after", http(1 | 16, SETTINGS, SETTINGS_ACK + HEADERS_429 + frame(0, 1, 1, b"x" * 40)))
put("http", "h2_refused_stream", http(1, SETTINGS, SETTINGS_ACK + frame(3, 0, 1, struct.pack(">I", 7))))
put("http", "h2_goaway", http(1 | 4, SETTINGS, SETTINGS_ACK + HEADERS_200 + DATA_END + frame(7, 0, 0, struct.pack(">II", 1, 0))))
put("http", "h2_window_ping", http(1, SETTINGS, SETTINGS_ACK + frame(8, 0, 0, struct.pack(">I", 1000)) +
                                  frame(6, 0, 0, b"12345678") + HEADERS_200 + DATA_END))
put("http", "h2_no_settings", http(1, b"", HEADERS_200 + DATA_END))
put("http", "h2_proxy", http(3, b"HTTP/1.1 200 OK\r\n\r\n" + SETTINGS, SETTINGS_ACK + HEADERS_200 + DATA_END))

# ---- parser: log lines as the parser filter sees them
put("parser", "json_time", '{"time":"10/Oct/2023:13:55:36 -0700","level":"info","n":42,"f":1.5,"b":true,"z":null,"a":[1,{"x":"y"}]}')
put("parser", "docker", '{"log":"line\\n","stream":"stdout","time":"2023-10-10T13:55:36.123456789Z"}')
put("parser", "json_escapes", '{"k\\u00e9y":"\\ud83d\\ude00 \\"q\\" \\\\ \\/ \\b\\f\\n\\r\\t","big":18446744073709551615,"neg":-9223372036854775808,"e":1e308}')
put("parser", "apache", '192.168.2.20 - - [28/Jul/2006:10:27:10 -0300] "GET /cgi-bin/try/ HTTP/1.0" 200 3395 "-" "Mozilla/5.0"')
put("parser", "syslog5424", '<165>1 2003-10-11T22:14:15.003Z host app 1234 ID47 [exampleSDID@32473 iut="3"] message text')
put("parser", "syslog3164", '<34>Oct 11 22:14:15 mymachine su[77]: su root failed')
put("parser", "cri", '2023-10-10T13:55:36.123456789+00:00 stderr F something went wrong')
put("parser", "typed", '42 3.25 true ff 1700000000.5 trailing')
put("parser", "logfmt", 'ts=2023-10-10T13:55:36+0000 level=warn msg="quoted \\"value\\"" bare key= empty=""')
# regressions: times past int64 nanoseconds overflowed (UBSan) in Time_Format %s and %Y
put("parser", "typed_epoch_overflow", '1 2.5 true ff 17000000032.5 x')
put("parser", "json_year_9999", '{"time":"10/Oct/9999:13:55:36 -0700"}')
put("parser", "deep_json", '{"a":' + '[' * 70 + '1' + ']' * 70 + '}')

# ---- spool: flags, then the segment file
def seg_header(seq, worker=0):
    body = b"FLSPOOL\0" + struct.pack("<IIQI", 1, worker, seq, 0)
    return body + struct.pack("<I", zlib.crc32(body) & 0xffffffff)

def batch(tag, events, extra=b"", extra_count=0):
    out = struct.pack("<I", len(tag)) + tag + struct.pack("<III", len(events), extra_count, len(extra)) + extra
    for t, rec in events:
        out += struct.pack("<qI", t, len(rec)) + rec
    return out

def spool_frame(payload, mask=3):
    h = struct.pack("<IIQI", 0x31424C46, len(payload), mask, zlib.crc32(payload) & 0xffffffff)
    return h + struct.pack("<I", zlib.crc32(h) & 0xffffffff) + payload

REC = b"\x82\xa3log\xa5hello\xa6stream\xa6stdout"
B1 = batch(b"app.log", [(1700000000000000000, REC), (1700000000000000001, REC)])
B2 = batch(b"other", [(5, b"\x80")], extra=b"\xa3ecs\xa1c", extra_count=1)
put("spool", "two_frames", b"\x00" + seg_header(1) + spool_frame(B1) + spool_frame(B2, mask=2))
put("spool", "torn_tail", b"\x00" + seg_header(1) + spool_frame(B1) + spool_frame(B2)[:30])
bad = bytearray(spool_frame(B1))
bad[40] ^= 0xff
put("spool", "corrupt_middle", b"\x00" + seg_header(1) + spool_frame(B2) + bytes(bad) + spool_frame(B1, mask=1))
put("spool", "bad_header", b"\x00" + b"FLSPOOX" + bytes(25) + spool_frame(B1))
put("spool", "fixup_payload", b"\x03" + bytes(32) + spool_frame(batch(b"t", [(1, b"\x81\xa1k\xa1v")] * 3)))
put("spool", "cursor", b"\x04" + struct.pack("<QQ", 1, 32) + seg_header(1) + spool_frame(B1) + spool_frame(B2))
put("spool", "cursor_far", b"\x04" + struct.pack("<QQ", 0xFFFFFFFFFFFFFFFF, 0) + seg_header(1) + spool_frame(B1))
put("spool", "short_file", b"\x00" + seg_header(1)[:10])
