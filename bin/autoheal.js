#!/usr/bin/env node
// The CLI is compiled to dist/ by `npm run build` (npm ci runs it through `prepare`).
import '../dist/cli/main.js';
