//! The workload contract (README) holds the same on every tier: each case of one corpus is run
//! on the isolate and the wasm tier, and both answers must match the expectation (status,
//! output, logs, error name and line). Where the tiers are allowed to differ the README says
//! so, and those cases are not here.

mod common;

use common::{differences, run_on, shared};
use serde_json::{Value, json};

struct Case {
    name: &'static str,
    code: &'static str,
    language: &'static str,
    input: Value,
    /// The fields every tier must answer exactly (`status`, `output`, `logs`, `error.*`).
    expect: Value,
}

fn corpus() -> Vec<Case> {
    let js = "javascript";
    vec![
        Case {
            name: "input echo",
            code: "export default (input) => input",
            language: js,
            input: json!({"a": [1, 2.5, "x", null, true], "b": {"c": "é"}}),
            expect: json!({"status": "succeeded",
                "output": {"a": [1, 2.5, "x", null, true], "b": {"c": "é"}}}),
        },
        Case {
            // The wasm guest's JSON.parse reads numbers with a fast path of its own
            // (engine-wasm/wasi/quickjs_stack_check.h): each must equal Number()'s reading.
            name: "JSON.parse reads numbers exactly",
            code: "export default () => {\n\
                   let x = 2463534242; const next = (n) => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return (x >>> 0) % n; };\n\
                   const texts = ['0', '-0', '1e22', '1e23', '9007199254740992', '9007199254740993',\n\
                     '0.1', '0.3', '123456789012345678', '1.7976931348623157e308', '5e-324', '1e-22',\n\
                     '2.2250738585072014e-308', '1E+2', '-1.5e-7', '4.35', '1.0000000000000002', '1e400'];\n\
                   for (let i = 0; i < 4000; i++) {\n\
                     const int = String(next(10 ** (1 + next(9)))), frac = String(next(10 ** next(9)));\n\
                     const sign = next(2) ? '-' : '', exp = next(3) ? `e${next(61) - 30}` : '';\n\
                     texts.push(`${sign}${int}${next(2) ? '.' + frac : ''}${exp}`);\n\
                   }\n\
                   const wrong = texts.filter((t) => !Object.is(JSON.parse(t), Number(t))).slice(0, 5);\n\
                   return { checked: texts.length, wrong, negativeZero: Object.is(JSON.parse('-0'), -0) }; }",
            language: js,
            input: json!(null),
            expect: json!({"status": "succeeded",
                "output": {"checked": 4018, "wrong": [], "negativeZero": true}}),
        },
        Case {
            name: "undefined becomes null",
            code: "export default () => undefined",
            language: js,
            input: json!(null),
            expect: json!({"status": "succeeded", "output": null}),
        },
        Case {
            name: "async default export",
            code: "export default async (n) => { await null; return n + 1; }",
            language: js,
            input: json!(41),
            expect: json!({"status": "succeeded", "output": 42}),
        },
        Case {
            name: "timers fire in order",
            code: "export default () => new Promise((done) => { const seen = [];\n\
                   setTimeout(() => seen.push(2), 20); setTimeout(() => { seen.push(3); done(seen); }, 40);\n\
                   queueMicrotask(() => seen.push(1)); })",
            language: js,
            input: json!(null),
            expect: json!({"status": "succeeded", "output": [1, 2, 3]}),
        },
        Case {
            name: "console levels and formatting",
            code: "export default () => { console.log('a', 1, {b: [2]}); console.info(null);\n\
                   console.warn(true); console.error('e'); console.debug([1, 'x']); }",
            language: js,
            input: json!(null),
            expect: json!({"status": "succeeded", "output": null, "logs": [
                {"level": "log", "message": "a 1 {\"b\":[2]}"},
                {"level": "info", "message": "null"},
                {"level": "warn", "message": "true"},
                {"level": "error", "message": "e"},
                {"level": "debug", "message": "[1,\"x\"]"},
            ]}),
        },
        Case {
            name: "thrown error with its line",
            code: "export default () => {\n  const x = 1;\n  throw new RangeError('too far ' + x);\n};",
            language: js,
            input: json!(null),
            expect: json!({"status": "error",
                "error": {"name": "RangeError", "message": "too far 1", "line": 3}}),
        },
        Case {
            name: "rejected promise",
            code: "export default async () => {\n  await null;\n  throw new TypeError('async nope');\n};",
            language: js,
            input: json!(null),
            expect: json!({"status": "error",
                "error": {"name": "TypeError", "message": "async nope", "line": 3}}),
        },
        Case {
            name: "no default export",
            code: "export const f = () => 1;",
            language: js,
            input: json!(null),
            expect: json!({"status": "error", "error": {"name": "ContractError"}}),
        },
        Case {
            name: "default export is not a function",
            code: "export default 42;",
            language: js,
            input: json!(null),
            expect: json!({"status": "error", "error": {"name": "ContractError"}}),
        },
        Case {
            name: "BigInt output",
            code: "export default () => 1n",
            language: js,
            input: json!(null),
            expect: json!({"status": "error", "error": {"name": "OutputError"}}),
        },
        Case {
            name: "cyclic output",
            code: "export default () => { const a = {}; a.self = a; return a; }",
            language: js,
            input: json!(null),
            expect: json!({"status": "error", "error": {"name": "OutputError"}}),
        },
        Case {
            name: "output over the cap",
            code: "export default () => 'x'.repeat(2 * 1024 * 1024)",
            language: js,
            input: json!(null),
            expect: json!({"status": "output_limit", "error": {"name": "OutputLimit"}}),
        },
        Case {
            name: "typescript with types",
            code: "interface P { x: number; y: number }\n\
                   export default (p: P): number => {\n  const d: number = Math.hypot(p.x, p.y);\n  return d;\n};",
            language: "typescript",
            input: json!({"x": 3, "y": 4}),
            expect: json!({"status": "succeeded", "output": 5}),
        },
        Case {
            name: "typescript error at the typescript line",
            code: "type Id = number;\n\ninterface Q { id: Id }\nexport default (q: Q): Id => {\n  throw new Error(`no ${q.id}`);\n};",
            language: "typescript",
            input: json!({"id": 7}),
            expect: json!({"status": "error",
                "error": {"name": "Error", "message": "no 7", "line": 5}}),
        },
        Case {
            name: "syntax error",
            code: "export default () => {\n  return 1 +;\n};",
            language: js,
            input: json!(null),
            expect: json!({"status": "error", "error": {"name": "SyntaxError", "line": 2}}),
        },
        // A workload that replaces built-ins it does not own breaks only itself: the tier's own
        // code that runs after it (calling it, awaiting, serialising, describing its errors,
        // its console, its timers) uses the built-ins as they were before it ran.
        Case {
            name: "a replaced Array iterator breaks only the workload",
            code: "export default async () => {\n\
                   Array.prototype[Symbol.iterator] = function* () { throw new Error('mine'); };\n\
                   console.log('still', [1]);\n  return 5;\n};",
            language: js,
            input: json!(null),
            expect: json!({"status": "succeeded", "output": 5,
                "logs": [{"level": "log", "message": "still [1]"}]}),
        },
        Case {
            name: "async generators, then destructuring through a poisoned iterator",
            code: "export default async () => {\n  const seen = [];\n\
                   for await (const x of (async function* () { yield 1; yield 2; })()) seen.push(x);\n\
                   Array.prototype[Symbol.iterator] = function* () { throw new Error('mine'); };\n\
                   let destructured;\n\
                   try { const [a] = [1]; destructured = a; } catch (e) { destructured = e.message; }\n\
                   return { seen, destructured };\n};",
            language: js,
            input: json!(null),
            expect: json!({"status": "succeeded",
                "output": {"seen": [1, 2], "destructured": "mine"}}),
        },
        Case {
            name: "replaced Promise.prototype.then, JSON.stringify and Object.defineProperty",
            code: "export default async () => {\n\
                   Promise.prototype.then = function () { throw new Error('then'); };\n\
                   JSON.stringify = () => '\"hacked\"';\n\
                   Object.defineProperty = () => { throw new Error('nope'); };\n\
                   return { a: [1, 2] };\n};",
            language: js,
            input: json!(null),
            expect: json!({"status": "succeeded", "output": {"a": [1, 2]}}),
        },
        Case {
            name: "a throwing getter on Error.prototype, then a thrown error",
            code: "export default () => {\n\
                   Object.defineProperty(Error.prototype, 'message', { get() { throw 1; } });\n\
                   String.prototype.slice = String.prototype.indexOf = () => { throw 2; };\n\
                   throw new TypeError('boom');\n};",
            language: js,
            input: json!(null),
            expect: json!({"status": "error",
                "error": {"name": "TypeError", "message": "boom", "line": 4}}),
        },
        Case {
            name: "objects made thenable: the returned object is awaited as one",
            code: "export default () => {\n\
                   Object.prototype.then = function (resolve) { resolve('via then'); };\n\
                   return { a: 1 };\n};",
            language: js,
            input: json!(null),
            expect: json!({"status": "succeeded", "output": "via then"}),
        },
        // (Timers used once before: on the isolate tier a Deno API's first use loads its code,
        // which a workload's replaced built-ins can break, as they break its own code.)
        Case {
            name: "timers still fire with iterators and Map replaced",
            code: "export default async () => {\n  await new Promise((done) => setTimeout(done, 1));\n\
                   Array.prototype[Symbol.iterator] = function* () { throw new Error('mine'); };\n\
                   Map.prototype.set = Map.prototype.delete = Map.prototype.forEach = () => { throw 3; };\n\
                   return await new Promise((done) => setTimeout(() => done('fired'), 5));\n};",
            language: js,
            input: json!(null),
            expect: json!({"status": "succeeded", "output": "fired"}),
        },
        // Temporal: V8's own on the isolate tier; temporal-polyfill, run on first use, on wasm.
        Case {
            name: "Temporal dates, durations, instants and UTC zones",
            code: "export default () => {\n\
                   const date = Temporal.PlainDate.from('2026-12-07').add({ months: 1, days: 30 });\n\
                   const span = Temporal.PlainDateTime.from('2026-01-31T08:00')\n\
                     .until('2026-12-07T12:30', { largestUnit: 'month' });\n\
                   const zoned = Temporal.ZonedDateTime.from('2026-03-29T00:30[UTC]').add({ hours: 25 });\n\
                   const offset = Temporal.ZonedDateTime.from('2026-12-07T10:00+05:30[+05:30]');\n\
                   return [date.toString(), date.dayOfWeek, span.toString(),\n\
                     Temporal.Duration.from({ minutes: 1500 }).round({ largestUnit: 'day', relativeTo: '2026-01-01' }).toString(),\n\
                     Temporal.Instant.fromEpochMilliseconds(1e12).toString(), zoned.toString(),\n\
                     offset.toInstant().toString(), Temporal.PlainDate.compare('2026-01-01', date),\n\
                     typeof Temporal.Now.instant().epochMilliseconds, Object.prototype.toString.call(Temporal)];\n\
                   };",
            language: js,
            input: json!(null),
            expect: json!({"status": "succeeded", "output": [
                "2027-02-06", 6, "P10M7DT4H30M", "P1DT1H", "2001-09-09T01:46:40Z",
                "2026-03-30T01:30:00+00:00[UTC]", "2026-12-07T04:30:00Z", -1, "number",
                "[object Temporal]"]}),
        },
        Case {
            name: "Temporal replaced before its first use",
            code: "export default () => { globalThis.Temporal = 42; return Temporal; }",
            language: js,
            input: json!(null),
            expect: json!({"status": "succeeded", "output": 42}),
        },
        Case {
            name: "Atomics on typed arrays",
            code: "export default () => {\n\
                   const a = new Int32Array(2), b = new BigInt64Array(1), u = new Uint8Array(1);\n\
                   const seen = [Atomics.store(a, 0, 5.7), Atomics.add(a, 0, 2), Atomics.sub(a, 0, 1),\n\
                     Atomics.compareExchange(a, 0, 6, 9), Atomics.exchange(a, 1, -3), Atomics.or(a, 0, 6),\n\
                     Atomics.and(a, 0, 12), Atomics.xor(a, 0, 1), Atomics.load(a, 0), Atomics.load(a, 1),\n\
                     Atomics.add(u, 0, 300), u[0], String(Atomics.add(b, 0, 5n)), String(b[0]),\n\
                     Atomics.notify(a, 0), Atomics.isLockFree(4),\n\
                     Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1)];\n\
                   try { Atomics.load(a, 2); } catch (e) { seen.push(e.name); }\n\
                   try { Atomics.add(new Float64Array(1), 0, 1); } catch (e) { seen.push(e.name); }\n\
                   try { Atomics.wait(a, 0, 0); } catch (e) { seen.push(e.name); }\n\
                   return seen;\n};",
            language: js,
            input: json!(null),
            expect: json!({"status": "succeeded", "output": [
                5, 5, 7, 6, 0, 9, 15, 12, 13, -3, 0, 44, "0", "5", 0, true, "not-equal",
                "RangeError", "TypeError", "TypeError"]}),
        },
        Case {
            name: "import is an error",
            code: "import { x } from './elsewhere.js';\nexport default () => x;",
            language: js,
            input: json!(null),
            expect: json!({"status": "error"}),
        },
    ]
}

/// Every field of `expect` must be in `answer` with the same value (objects compared key by
/// key, recursively; everything else exactly). Differences are collected in `failures`.
#[tokio::test]
async fn every_tier_keeps_the_workload_contract() {
    let mut failures = Vec::new();
    for case in corpus() {
        for tier in ["isolate", "wasm"] {
            let extra = json!({"language": case.language, "input": case.input});
            let answer = run_on(shared(), tier, case.code, extra).await;
            assert_eq!(answer["backend"], tier);
            let mut expect = case.expect.clone();
            expect["backend"] = json!(tier);
            if expect.get("logs").is_none() {
                expect["logs"] = json!([]);
            }
            let mut found = Vec::new();
            differences(&answer, &expect, "", &mut found);
            let context = format!("{} on {tier}", case.name);
            failures.extend(found.into_iter().map(|diff| format!("{context}: {diff}")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `GET /v1/backends` lists each tier's notable globals; a workload on that tier sees exactly
/// those it says it has (full or partial) and none of those it says it lacks.
#[tokio::test]
async fn each_tier_lists_the_language_features_a_workload_finds() {
    let backends: Value = reqwest::get(shared().url("/v1/backends"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for tier in backends["backends"].as_array().unwrap() {
        let kind = tier["kind"].as_str().unwrap();
        let features = tier["capabilities"]["features"].as_array().unwrap();
        assert!(features.len() >= 10, "{kind}: {features:?}");
        let names: Vec<&str> = features
            .iter()
            .map(|f| f["name"].as_str().unwrap())
            .collect();
        let code = "export default (names) => names.map((name) => typeof globalThis[name] !== 'undefined')";
        let answer = run_on(shared(), kind, code, json!({"input": names})).await;
        for (feature, found) in features.iter().zip(answer["output"].as_array().unwrap()) {
            let listed = feature["support"] != "none";
            assert_eq!(found.as_bool(), Some(listed), "{kind}: {feature}");
        }
    }
}
