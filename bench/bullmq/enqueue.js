'use strict';
// Adds N mailroom jobs to a BullMQ queue for the end-to-end benchmark.
//
//   node enqueue.js --redis URL --queue NAME --jobs N --job-file PATH
//
// PATH holds a JSON array of job objects; job i is element i modulo the
// array's length. Jobs are added with Queue.addBulk in chunks of 1000 and
// the same options as a production queue would use: kept until completed,
// kept when failed, 5 attempts with exponential backoff from 200 ms.
// Prints {"enqueued":N}.

const fs = require('node:fs');
const { parseArgs } = require('node:util');
const { Queue } = require('bullmq');
const IORedis = require('ioredis');

const CHUNK = 1000;
const JOB_OPTIONS = {
  removeOnComplete: true,
  removeOnFail: false,
  attempts: 5,
  backoff: { type: 'exponential', delay: 200 },
};

async function main() {
  const { values } = parseArgs({
    options: {
      redis: { type: 'string' },
      queue: { type: 'string' },
      jobs: { type: 'string' },
      'job-file': { type: 'string' },
    },
  });
  for (const name of ['redis', 'queue', 'jobs', 'job-file']) {
    if (values[name] === undefined) throw new Error(`--${name} is required`);
  }
  const n = Number.parseInt(values.jobs, 10);
  if (!(n >= 0)) throw new Error(`--jobs: not a count: ${values.jobs}`);
  const jobs = JSON.parse(fs.readFileSync(values['job-file'], 'utf8'));
  if (!Array.isArray(jobs) || jobs.length === 0) {
    throw new Error(`${values['job-file']}: not a non-empty JSON array of jobs`);
  }

  const connection = new IORedis(values.redis, { maxRetriesPerRequest: null });
  const queue = new Queue(values.queue, { connection });
  try {
    for (let start = 0; start < n; start += CHUNK) {
      const chunk = [];
      for (let i = start; i < Math.min(n, start + CHUNK); i++) {
        chunk.push({ name: 'send', data: jobs[i % jobs.length], opts: JOB_OPTIONS });
      }
      await queue.addBulk(chunk);
    }
  } finally {
    await queue.close();
    await connection.quit();
  }
  console.log(JSON.stringify({ enqueued: n }));
}

main().catch((error) => {
  console.error(`enqueue: ${error.message}`);
  process.exit(1);
});
