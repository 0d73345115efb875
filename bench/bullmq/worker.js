'use strict';
// The BullMQ peer of mailroom's end-to-end benchmark: a BullMQ Worker that
// sends each job through Gmail's users.messages.send with undici.
//
//   node worker.js --redis URL --queue NAME --base BASE --token TOKEN --jobs N [--concurrency 64]
//
// The processor builds the same RFC 5322 message as mailroom-bench-floor
// (crates/bench/src/lib.rs) and posts it in the uploadType=multipart form
// google-gmail1 uses, over keep-alive connections of one undici Agent. A
// non-200 throws, so BullMQ retries the job as its options say (enqueue.js:
// 5 attempts, exponential backoff from 200 ms); an invalid job throws
// UnrecoverableError and fails at once. When N jobs have completed or
// failed for good it prints one JSON line
//   {"jobs":N,"seconds":S,"max_rss_kb":K,"cpu_ms":C,"retries":R}
// (jobs: completed jobs; seconds: first processor start to last
// "completed" event; retries: failed attempts that were retried) and exits,
// 1 if some job failed for good.

const { parseArgs } = require('node:util');
const { Worker, UnrecoverableError } = require('bullmq');
const IORedis = require('ioredis');
const undici = require('undici');

// google-apis-common's MultiPartReader boundary and Content-Type.
const UPLOAD_BOUNDARY = 'MDuXWGyeE33QFXGchb2VFWc4Z7945d';
const UPLOAD_CONTENT_TYPE = `multipart/related;boundary=${UPLOAD_BOUNDARY}`;

const { values } = parseArgs({
  options: {
    redis: { type: 'string' },
    queue: { type: 'string' },
    base: { type: 'string' },
    token: { type: 'string' },
    jobs: { type: 'string' },
    concurrency: { type: 'string', default: '64' },
  },
});
for (const name of ['redis', 'queue', 'base', 'token', 'jobs']) {
  if (values[name] === undefined) {
    console.error(`worker: --${name} is required`);
    process.exit(2);
  }
}
const total = Number.parseInt(values.jobs, 10);
const concurrency = Math.max(1, Number.parseInt(values.concurrency, 10) || 1);

const sendUrl = `${values.base}upload/gmail/v1/users/me/messages/send?alt=json&uploadType=multipart`;
const headers = {
  authorization: `Bearer ${values.token}`,
  'content-type': UPLOAD_CONTENT_TYPE,
  'user-agent': 'mailroom-bench-bullmq',
};
const agent = new undici.Agent({ keepAliveTimeout: 30000, connections: concurrency });

// Message-IDs: a counter, then start time and process ID.
const idSuffix = `${(Date.now() * 1000).toString(16)}.${process.pid}`;
let messages = 0;

// Appends CRLF to every line, normalising LF line ends.
function crlfLines(text) {
  const lines = text.replace(/\r?\n/g, '\r\n');
  return lines === '' || lines.endsWith('\r\n') ? lines : `${lines}\r\n`;
}

// The RFC 5322 message for a job; `unique` is the Message-ID's local part
// and names the MIME boundary. Header values are written as given (UTF-8
// allowed, RFC 6532; no RFC 2047 encoding) and must not contain line
// breaks. Text and HTML are sent as 8bit with CRLF line ends, which is
// valid while no line exceeds 998 octets (true of the benchmark's jobs).
function message(job, unique) {
  const { from, to, subject, text, html } = job;
  if (typeof from !== 'string' || typeof subject !== 'string' || !Array.isArray(to)) {
    throw new UnrecoverableError('not a job');
  }
  if ([from, subject, ...to].some((v) => /[\r\n]/.test(v))) {
    throw new UnrecoverableError('a header value contains a line break');
  }
  if (to.length === 0) throw new UnrecoverableError('no recipients');
  const domain = from.slice(from.lastIndexOf('@') + 1).replace(/>+$/, '');
  const boundary = `alt-${unique}`;
  const date = new Date().toUTCString().replace('GMT', '+0000');
  let m =
    `From: ${from}\r\nTo: ${to.join(',\r\n ')}\r\nSubject: ${subject}\r\nDate: ${date}\r\n` +
    `Message-ID: <${unique}@${domain}>\r\nMIME-Version: 1.0\r\n` +
    `Content-Type: multipart/alternative; boundary="${boundary}"\r\n\r\n`;
  for (const [mediaType, content] of [['text/plain', text], ['text/html', html]]) {
    if (typeof content === 'string') {
      m +=
        `--${boundary}\r\nContent-Type: ${mediaType}; charset=utf-8\r\n` +
        `Content-Transfer-Encoding: 8bit\r\n\r\n${crlfLines(content)}`;
    }
  }
  return `${m}--${boundary}--\r\n`;
}

// The uploadType=multipart body exactly as MultiPartReader writes it.
function uploadBody(raw) {
  const b = UPLOAD_BOUNDARY;
  return (
    `\r\n--${b}\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}` +
    `\r\n--${b}\r\ncontent-type: message/rfc822\r\ncontent-length: ${Buffer.byteLength(raw)}\r\n\r\n${raw}` +
    `\r\n--${b}--\r\n`
  );
}

let started = null;

// The processor: one users.messages.send call; throws unless a 200 with an id.
async function send(job) {
  started ??= performance.now();
  const raw = message(job.data, `${messages++}.${idSuffix}`);
  const { statusCode, body } = await undici.request(sendUrl, {
    method: 'POST',
    dispatcher: agent,
    headers,
    body: uploadBody(raw),
  });
  const answer = await body.text();
  if (statusCode !== 200) throw new Error(`${statusCode}: ${answer}`);
  if (typeof JSON.parse(answer).id !== 'string') {
    throw new Error(`200 without a message id: ${answer}`);
  }
}

const connection = new IORedis(values.redis, { maxRetriesPerRequest: null });
const worker = new Worker(values.queue, send, { connection, concurrency });

let completed = 0;
let failed = 0;
let retries = 0;
let finishing = false;

// Peak RSS in KiB: VmHWM of this process image. getrusage's maxRSS (process.resourceUsage)
// keeps the high-water mark of the parent that forked it, across exec, on Linux.
function peakRssKb(usage) {
  try {
    const status = require('node:fs').readFileSync("/proc/self/status", 'utf8');
    const line = status.split('\n').find((l) => l.startsWith('VmHWM:'));
    if (line) return parseInt(line.slice(6), 10);
  } catch (_) {
    // Not Linux: fall through.
  }
  return usage.maxRSS;
}

async function finish() {
  if (finishing) return;
  finishing = true;
  const seconds = started === null ? 0 : (performance.now() - started) / 1000;
  const usage = process.resourceUsage();
  console.log(
    JSON.stringify({
      jobs: completed,
      seconds,
      max_rss_kb: peakRssKb(usage),
      cpu_ms: Math.round((usage.userCPUTime + usage.systemCPUTime) / 1000),
      retries,
    }),
  );
  if (failed > 0) console.error(`worker: ${failed} jobs could not be sent`);
  await worker.close();
  await agent.close();
  await connection.quit();
  process.exit(failed > 0 ? 1 : 0);
}

function check() {
  if (completed + failed >= total) finish();
}

worker.on('completed', () => {
  completed++;
  check();
});
worker.on('failed', (job, error) => {
  const final =
    !job || error instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1);
  if (final) {
    failed++;
    console.error(`worker: job not sent: ${error.message}`);
    check();
  } else {
    retries++;
  }
});
worker.on('error', (error) => console.error(`worker: ${error.message}`));
if (total <= 0) finish();
