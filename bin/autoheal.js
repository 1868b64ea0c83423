#!/usr/bin/env node
// The CLI is compiled to dist/ by `npm run build` (npm ci runs it through `prepare`).
// The AWS SDK warns on every client that it will need Node 22 from 2027; autoheal supports
// Node >= 20 and says so in the README, so the CLI's output stays clean of it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
await import('../dist/cli/main.js');
