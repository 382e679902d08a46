"""A local OpenAI-compatible chat server for tests and the benchmark: deterministic answers and fault modes.

In a test (thread in the same process):

    with FakeLLMServer() as server:             # 127.0.0.1, random port
        os.environ["OPENAI_BASE_URL"] = server.base_url

As a process (the kill -9 test, the benchmark):

    python -m tests.fake_llm_server --latency 0.2 --log requests.log    # prints "PORT <n>" when ready

It reads the prompt the way a model would: it finds the input section of each prompt family (text genres,
code, instruction, math grading, GLUE simplify/answer) and rewrites it deterministically: every word of
more than six letters becomes "thing". Tokens in the input switch on faults (per distinct prompt, the
transient ones fail only the first `fail_times` attempts):

    FAULT:429      429 with Retry-After          FAULT:429always   429 on every attempt
    FAULT:500      500                           FAULT:slow        answers after `slow_s` (past the timeout)
    FAULT:noend    answer without the end marker FAULT:blocks      one passage too many
    FAULT:noendonce  as noend, on the first `fail_times` attempts only (a transient bad answer)
    FAULT:length   finish_reason "length"        FAULT:echo        repeats the prompt
    FAULT:empty    empty content                 FAULT:wronglabel  GLUE answer: a wrong label (9)

GLUE answers follow a fixed rule: label 0 when the item contains the word "not", else 1.

Judge prompts (`[ANSWERS]` blocks `[A] ... [/A]`, see prompts/judge/) get one line per answer,
`<label>: g c s`, by a rule computable by hand (`judge_scores`): g = min(5, words), c = 5 - min(5, repeated
words), s = min(5, distinct words of 4+ letters). Faults in an answer's text: `FAULT:judgeshort` drops the last
line, `FAULT:judgegarbage` answers prose (both only until the prompt carries the re-ask note "could not be
read"); `FAULT:judgerange` always scores 9 (unreadable for good). Responses carry `system_fingerprint`.

Random faults, the way real endpoints fail: with `fault_rate` > 0 every request, whatever its prompt, fails
with that probability, in a mode drawn from `fault_modes` by a generator seeded with `fault_seed` (drawn in
arrival order, so which request gets which fault varies with thread timing; the rate does not):

    badjson     200 with a body that is not JSON        nofields    200 without `choices`
    wrongtypes  200 with a number as the content        reset       200 cut mid-body, connection closed
    429         429 with Retry-After                    500 / 503   server errors
    slow        the answer after `slow_s` (past the client's timeout)
    noend       (only if listed in `fault_modes`) a 200 answer without its end marker: usable JSON, unusable text

`faults` lists the modes drawn, one per faulty request.

Every request is appended to `requests` (and to the `--log` file): the sha256 of its messages; `prompts` keeps
the user prompts, `headers` the request headers.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

RANDOM_FAULTS = ("badjson", "nofields", "wrongtypes", "reset", "429", "500", "503", "slow")
_LONG = re.compile(r"(?<![:\w])[A-Za-z]{7,}\b")


def rewrite(text: str) -> str:
    """The deterministic 'simplification': long words become 'thing' (fault words stay, so they reach the
    validity check of a GLUE item)."""
    return _LONG.sub("thing", text).strip()


def _section(prompt: str, header: str, until: str | None = None) -> str:
    start = prompt.rindex(header) + len(header)
    end = prompt.index(until, start) if until else len(prompt)
    return prompt[start:end].strip("\n")


def judge_scores(answer: str) -> tuple[int, int, int]:
    """The fake judge's (grammar, coherence, specificity) of one answer."""
    words = answer.split()
    repeated = len(words) - len({word.lower() for word in words})
    return min(5, len(words)), 5 - min(5, repeated), min(5, len({w.lower() for w in words if len(w) >= 4}))


def judge_answer(prompt: str) -> str:
    """The fake judge's reply: one `<label>: g c s` line per answer block of the last [ANSWERS] section."""
    section = prompt[prompt.rindex("[ANSWERS]") :]
    blocks = re.findall(r"^\[([A-Z])\]\n(.*?)\n\[/\1\]$", section, re.MULTILINE | re.DOTALL)
    reasked = "could not be read" in prompt
    if "FAULT:judgegarbage" in section and not reasked:
        return "These answers are all quite nice, I would not like to give numbers."
    lines = [f"{label}: " + " ".join(map(str, judge_scores(text))) for label, text in blocks]
    if "FAULT:judgerange" in section:
        lines = [f"{label}: 9 9 9" for label, _ in blocks]
    if "FAULT:judgeshort" in section and not reasked:
        lines = lines[:-1]
    return "\n".join(lines)


def answer_for(prompt: str) -> str:
    """What a well-behaved model would answer to one of the project's prompts."""
    if "[ANSWERS]" in prompt and "[SCORES]" in prompt:
        return judge_answer(prompt)
    if "[PROBLEMS]" in prompt:
        problems = re.findall(r"^(\d+)\. (.*)$", _section(prompt, "[PROBLEMS]"), re.M)
        grades = "\n".join(f"{n}. {'A' if len(p) < 80 else 'B' if len(p) < 160 else 'D'}" for n, p in problems)
        return f"[DIFFICULTY GRADING]\n{grades}\n<end>"
    if "TASK DESCRIPTION:" in prompt and "SOLUTION AND CODE:" in prompt:
        task = _section(prompt, "\nTASK DESCRIPTION:", "\nSOLUTION AND CODE:")
        code = _section(prompt, "\nSOLUTION AND CODE:")
        return f"EDITED TASK DESCRIPTION:\n{rewrite(task)} <end>\nEDITED SOLUTION AND CODE:\n{code.strip()}\n<end>"
    if "\n[TASK]\n" in prompt:
        task = _section(prompt, "\n[TASK]\n", "\n[INPUT]\n")
        input_ = _section(prompt, "\n[INPUT]\n", "\n[RESPONSE]\n")
        output = _section(prompt, "\n[RESPONSE]\n")
        return f"EDITED:\n{rewrite(task)} <split> {rewrite(input_)} <split> {rewrite(output)} <end>"
    if "[GLUE ANSWER]" in prompt:
        item = _section(prompt, "[GLUE ANSWER]")
        value = "9" if "wronglabel" in item else "0" if re.search(r"\bnot\b", item) else "1"
        return f"Thinking about it.\nLABEL: {value} <end>"
    if "[GLUE ITEM]" in prompt:
        fields = re.findall(r"^(\w+): (.*)$", _section(prompt, "[GLUE ITEM]"), re.M)
        lines = "\n".join(f"{name}: {rewrite(value)}" for name, value in fields)
        return f"EDITED:\n{lines}\n<end>"
    header = re.findall(r"^ORIGINAL [A-Z ]+:$", prompt, re.M)[-1]
    passages = [p.strip() for p in re.split(r"\s*<end>", _section(prompt, header)) if p.strip()]
    if "FAULT:blocks" in prompt:
        passages.append("An extra passage.")
    body = "\n".join(f"{rewrite(p)} <end>" for p in passages)
    return f"Notes: nothing special to change.\nEDITED:\n{body}"


class FakeLLMServer:
    """The server on a background thread; a context manager."""

    def __init__(
        self,
        latency: float = 0.0,
        fail_times: int = 1,
        slow_s: float = 2.0,
        retry_after: float = 0.05,
        log_path: str | Path | None = None,
        fault_rate: float = 0.0,
        fault_seed: int = 0,
        fault_modes: tuple[str, ...] = RANDOM_FAULTS,
    ) -> None:
        self.latency, self.fail_times, self.slow_s, self.retry_after = latency, fail_times, slow_s, retry_after
        self.log_path = Path(log_path) if log_path else None
        self.fault_rate, self.fault_modes = fault_rate, fault_modes
        self._fault_rng = random.Random(fault_seed)
        self.faults: list[str] = []
        self.requests: list[str] = []
        self.prompts: list[str] = []
        self.headers: list[dict[str, str]] = []
        self._attempts: dict[str, int] = {}
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # small writes must not wait for delayed ACKs (~40 ms each)

            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
                fault = server.draw_fault()
                if fault in ("429", "500", "503"):
                    status, payload, headers = (
                        int(fault),
                        {"error": {"message": f"random fault {fault}"}},
                        {"retry-after": str(server.retry_after)} if fault == "429" else {},
                    )
                    server.record(body, dict(self.headers))
                else:
                    if fault == "slow":
                        time.sleep(server.slow_s)
                    status, payload, headers = server.handle(body, dict(self.headers))
                data = json.dumps(payload).encode()
                length = len(data)
                if fault == "badjson":
                    data = data[: len(data) // 2] + b"<html>502 Bad Gateway</html>"
                    length = len(data)
                elif fault == "nofields":
                    data = json.dumps({"id": "chatcmpl-x", "object": "chat.completion"}).encode()
                    length = len(data)
                elif fault == "wrongtypes":
                    payload["choices"][0]["message"]["content"] = 42
                    data = json.dumps(payload).encode()
                    length = len(data)
                elif fault == "reset":
                    data = data[: len(data) // 2]  # the header promises the whole body
                elif fault == "noend":
                    content = payload["choices"][0]["message"]["content"]
                    payload["choices"][0]["message"]["content"] = re.sub(r"\s*<end>\s*$", "", content)
                    data = json.dumps(payload).encode()
                    length = len(data)
                try:
                    self.send_response(status)
                    for key, value in {"content-type": "application/json", **headers}.items():
                        self.send_header(key, value)
                    self.send_header("content-length", str(length))
                    self.end_headers()
                    self.wfile.write(data)
                    if fault == "reset":
                        self.wfile.flush()
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                except (BrokenPipeError, ConnectionResetError, OSError):
                    pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 256  # the default backlog of 5 refuses bursts of concurrent clients
            daemon_threads = True

        self._httpd = Server(("127.0.0.1", 0), Handler)
        self.port = self._httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def draw_fault(self) -> str | None:
        """The random fault mode of the next request, or None (see `fault_rate`)."""
        if not self.fault_rate:
            return None
        with self._lock:
            if self._fault_rng.random() >= self.fault_rate:
                return None
            fault = self._fault_rng.choice(self.fault_modes)
            self.faults.append(fault)
            return fault

    def record(self, body: dict, headers: dict[str, str]) -> tuple[str, str, int]:
        """Log one request; return its key, its prompt and how many times that prompt has been asked."""
        messages = body.get("messages", [])
        key = hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()
        prompt = messages[-1]["content"] if messages else ""
        with self._lock:
            self.requests.append(key)
            self.prompts.append(prompt)
            self.headers.append(headers)
            attempt = self._attempts[key] = self._attempts.get(key, 0) + 1
            if self.log_path:
                with open(self.log_path, "a") as log:
                    log.write(key + "\n")
        return key, prompt, attempt

    def handle(self, body: dict, headers: dict[str, str]) -> tuple[int, dict, dict[str, str]]:
        key, prompt, attempt = self.record(body, headers)
        if self.latency:
            time.sleep(self.latency)
        transient = attempt <= self.fail_times
        if "FAULT:429always" in prompt or "FAULT:429" in prompt and transient:
            return (
                429,
                {"error": {"message": "rate limited", "type": "rate_limit"}},
                {"retry-after": str(self.retry_after)},
            )
        if "FAULT:500" in prompt and transient:
            return 500, {"error": {"message": "server error", "type": "server_error"}}, {}
        if "FAULT:slow" in prompt and transient:
            time.sleep(self.slow_s)
        finish = "stop"
        if "FAULT:empty" in prompt:
            content = ""
        elif "FAULT:echo" in prompt:
            content = prompt
        else:
            content = answer_for(prompt)
            if "FAULT:noendonce" in prompt and transient or "FAULT:noend" in prompt and "FAULT:noendonce" not in prompt:
                content = re.sub(r"\s*<end>\s*$", "", content)
            if "FAULT:length" in prompt:
                content, finish = content[: len(content) // 2], "length"
        usage = {"prompt_tokens": len(prompt.split()), "completion_tokens": len(content.split())}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        return (
            200,
            {
                "id": f"chatcmpl-{key[:12]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "fake"),
                "system_fingerprint": "fp_fake_1",
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}
                ],
                "usage": usage,
            },
            {},
        )

    def __enter__(self) -> FakeLLMServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the fake OpenAI-compatible server until killed.")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every response")
    parser.add_argument("--log", default=None, help="append each request's key to this file")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="share of requests failing at random")
    parser.add_argument("--fault-seed", type=int, default=0, help="seed of the random faults")
    args = parser.parse_args(argv)
    with FakeLLMServer(
        latency=args.latency, log_path=args.log, fault_rate=args.fault_rate, fault_seed=args.fault_seed
    ) as server:
        print(f"PORT {server.port}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    sys.exit(0)


if __name__ == "__main__":
    main()
