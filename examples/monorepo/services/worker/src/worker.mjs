/** The demo worker: processes one job description. */
export function work(job) {
  return { id: job.id, done: true };
}

if (process.argv.includes('--describe')) console.log(JSON.stringify({ name: 'worker', version: '0.1.0' }));
