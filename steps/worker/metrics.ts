import { createServer, type Server } from 'node:http';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The worker's Prometheus metrics: queue wait, run time, cache hits and jobs by outcome, per pool. */
export class WorkerMetrics {
  readonly registry = new Registry();
  readonly queueWait = new Histogram({ name: 'forge_job_queue_wait_seconds', help: 'Time from a job being published to a worker starting it', labelNames: ['pool'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5, 30, 120, 600], registers: [this.registry] });
  readonly runTime = new Histogram({ name: 'forge_job_run_seconds', help: 'Time a worker spent on a job, checkout included', labelNames: ['pool', 'outcome'], buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 1800, 3600], registers: [this.registry] });
  readonly jobs = new Counter({ name: 'forge_jobs_total', help: 'Jobs finished, by outcome', labelNames: ['pool', 'outcome'], registers: [this.registry] });
  readonly cache = new Counter({ name: 'forge_git_cache_total', help: 'Checkouts from the git cache, by whether the commit was already there', labelNames: ['pool', 'result'], registers: [this.registry] });
  readonly refused = new Counter({ name: 'forge_jobs_refused_total', help: 'Payloads terminated as invalid (never run)', labelNames: ['pool'], registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'forge_worker_' });
  }

  /** Serves `/metrics` (and `/healthz`) on `port`; resolves with the server once it listens. */
  serve(port: number, host = '0.0.0.0', healthy: () => boolean = () => true): Promise<Server> {
    const server = createServer((req, res) => {
      if (req.url === '/healthz') {
        res.writeHead(healthy() ? 200 : 503).end(healthy() ? 'ok\n' : 'draining\n');
        return;
      }
      if (req.url !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      void this.registry.metrics().then((body) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(body));
    });
    return new Promise((resolve) => server.listen(port, host, () => resolve(server)));
  }
}
