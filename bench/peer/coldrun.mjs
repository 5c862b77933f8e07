// One cold Lambda container of the peer (a trigger of amazon-cognito-passwordless-auth) as a node
// process: import the trigger's compiled module the way Lambda's node runtime imports a handler (the
// module builds its AWS SDK clients as it loads), answer one event, write what happened to a JSON
// file. The node counterpart of bench/coldrun.py's `function` mode, with the same report keys.
//
// It imports only node's own modules before the trigger, so the process loads exactly what the
// trigger loads. The parent measures wall time and CPU time from outside (os.wait4).
//
//     node coldrun.mjs <result.json> <trigger module.js> <event.json> <function name> <memory MB>

import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const [resultPath, modulePath, eventPath, functionName, memoryMb] = process.argv.slice(2);

// The parts of Lambda's context object a handler may read.
function lambdaContext(name, memory) {
  return {
    functionName: name,
    functionVersion: "$LATEST",
    memoryLimitInMB: String(memory),
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${name}`,
    awsRequestId: "00000000-0000-4000-8000-000000000000",
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: "bench",
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => 4000,
  };
}

// Time spent waiting for the (local) AWS answer, and the operations called: hooked into the SDK's
// HTTP handler only if the trigger itself loaded it, so a trigger without the SDK stays without it.
function watchAws() {
  const require = createRequire(import.meta.url);
  const watch = { waitSeconds: 0, calls: 0, operations: [], sdkLoaded: false };
  let path;
  try {
    path = require.resolve("@smithy/node-http-handler");
  } catch {
    return watch;
  }
  if (!require.cache[path]) return watch;
  watch.sdkLoaded = true;
  const { NodeHttpHandler } = require(path);
  const handle = NodeHttpHandler.prototype.handle;
  NodeHttpHandler.prototype.handle = async function (request, options) {
    const target = request.headers["x-amz-target"];
    const action = typeof request.body === "string" ? /(?:^|&)Action=([^&]+)/.exec(request.body)?.[1] : undefined;
    watch.operations.push(target ?? action ?? request.hostname);
    const started = performance.now();
    try {
      return await handle.call(this, request, options);
    } finally {
      watch.waitSeconds += (performance.now() - started) / 1000;
      watch.calls += 1;
    }
  };
  return watch;
}

// This process's own peak resident memory, as bench/coldrun.py reads it.
function peakRssMb() {
  try {
    const line = readFileSync("/proc/self/status", "ascii")
      .split("\n")
      .find((l) => l.startsWith("VmHWM:"));
    return line ? Number(line.split(/\s+/)[1]) / 1024 : null;
  } catch {
    return null;
  }
}

const report = { mode: "peer" };
const started = performance.now();
const { handler } = await import(pathToFileURL(modulePath).href);
const imported = performance.now();
const watch = watchAws();
const event = JSON.parse(readFileSync(eventPath, "utf8"));
try {
  const result = await handler(event, lambdaContext(functionName, Number(memoryMb)));
  report.answered = typeof result?.response === "object" && result.response !== null;
  report.response = result?.response ?? null;
  report.error = "";
} catch (err) {
  // a cold start that fails is reported, not hidden
  report.answered = false;
  report.error = err?.name ?? String(err);
  report.message = String(err?.message ?? "").slice(0, 200);
}
Object.assign(report, {
  import_seconds: (imported - started) / 1000,
  aws_wait_seconds: watch.waitSeconds,
  aws_calls: watch.calls,
  operations: watch.operations,
  sdk_loaded: watch.sdkLoaded,
  peak_rss_mb: peakRssMb(),
});
writeFileSync(resultPath, JSON.stringify(report));
