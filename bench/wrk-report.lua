-- bench/run.ts runs wrk with this script: one JSON line with the figures the bench needs, latency
-- in microseconds (wrk's unit). Status codes outside 2xx/3xx are counted by wrk as status errors.
done = function(summary, latency, requests)
  io.write(string.format(
    '{"requests":%d,"non2xx":%d,"errors":%d,"rps":%.1f,"p50Us":%d,"p99Us":%d}\n',
    summary.requests, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.requests / (summary.duration / 1e6), latency:percentile(50), latency:percentile(99)))
end
