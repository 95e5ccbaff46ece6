// The Node flags `serve` is launched with where the project launches it: the image's ENTRYPOINT
// (Dockerfile, whose command is `serve`) and the .deb's /usr/bin/credential-broker
// (packaging/deb/credential-broker, which passes them to `serve` only: with them each start of Node
// took ~14 ms longer, 9% of a short command such as credential-process). The bench starts `serve`
// with them too, so it measures the broker as shipped.
// test/deploy/node-flags.test.ts keeps the three in step.

/**
 * `--max-semi-space-size=4`: V8's young generation at most 4 MB per semi-space. Node lets it grow
 * to 16 MB each (32 MB for the two) while the modules load and under load, and keeps it: that was
 * a quarter of the serving broker's resident memory. Measured (docs/performance.md, "Memory"): about
 * 22 MB less RSS after 200,000 requests and 12 MB less peak, for ~5% more CPU per request (within
 * the run-to-run spread). 2 saved 2 MB more for more CPU; MALLOC_ARENA_MAX=2 saved nothing.
 */
export const NODE_FLAGS = ['--max-semi-space-size=4'] as const;
