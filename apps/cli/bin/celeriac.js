#!/usr/bin/env node
// Committed entry point so that npm can link the `celeriac` bin before the build has run.
await import('../dist/bin.js');
