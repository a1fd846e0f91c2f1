import { setDefaultTimeout } from 'bun:test';

// Integration tests start real processes and wait on real PostgreSQL and Redis; each waits on a
// condition with its own deadline, this is only the outer bound. (bunfig's [test] timeout is not read.)
setDefaultTimeout(60_000);
