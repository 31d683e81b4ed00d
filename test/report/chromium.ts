/**
 * Loads a local page in Debian's headless Chromium and inspects it over the Chrome DevTools
 * Protocol on `--remote-debugging-pipe` (fd 3: commands to Chromium, fd 4: replies and events,
 * messages separated by NUL), so no WebSocket library is needed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';

/** The Chromium binary, or null when it is not installed (Debian: `apt-get install chromium`). */
export function findChromium(): string | null {
  const candidates = [process.env.CHROMIUM_BIN, '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  for (const c of candidates) if (c && fs.existsSync(c)) return c;
  return null;
}

export interface PageInspection {
  /** console.error / console.assert calls, uncaught exceptions and browser log entries at level error */
  errors: string[];
  /** URLs requested other than file: and data: (a self-contained page requests none) */
  network: string[];
  title: string;
  /** width × height of every <svg> element in the page, in CSS pixels */
  svgBoxes: Array<{ width: number; height: number; figure: string | null }>;
  figures: number;
}

interface Message {
  id?: number;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { message: string };
  sessionId?: string;
}

class Cdp {
  private next = 1;
  private pending = new Map<number, { resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  private listeners: Array<(m: Message) => void> = [];
  private buffer = '';
  constructor(
    private readonly input: Writable,
    output: Readable,
  ) {
    output.setEncoding('utf8');
    output.on('data', (chunk: string) => {
      this.buffer += chunk;
      let i;
      while ((i = this.buffer.indexOf('\0')) >= 0) {
        const text = this.buffer.slice(0, i);
        this.buffer = this.buffer.slice(i + 1);
        const m = JSON.parse(text) as Message;
        if (m.id !== undefined && this.pending.has(m.id)) {
          const p = this.pending.get(m.id)!;
          this.pending.delete(m.id);
          if (m.error) p.reject(new Error(`CDP: ${m.error.message}`));
          else p.resolve(m.result ?? {});
        } else for (const l of this.listeners) l(m);
      }
    });
  }
  send(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, unknown>> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.input.write(`${JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) })}\0`);
    });
  }
  on(listener: (m: Message) => void): void {
    this.listeners.push(listener);
  }
  failAll(e: Error): void {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }
}

/** Opens `file` in headless Chromium, waits for load, and reports errors, requests and SVG sizes. */
export async function inspectPage(chromium: string, file: string, timeoutMs = 15000): Promise<PageInspection> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'bigstep-chromium-'));
  const child: ChildProcess = spawn(
    chromium,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-default-apps',
      '--disable-extensions',
      '--no-first-run',
      '--no-default-browser-check',
      '--allow-file-access-from-files',
      `--user-data-dir=${profile}`,
      '--remote-debugging-pipe',
      'about:blank',
    ],
    { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => {
    stderr = (stderr + d).slice(-4000);
  });
  const cdp = new Cdp(child.stdio[3] as Writable, child.stdio[4] as Readable);
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code, sig) => {
      const e = new Error(
        `chromium exited (${code ?? sig}) before the page was inspected: ${stderr.trim().split('\n').slice(-3).join(' | ')}`,
      );
      cdp.failAll(e);
      reject(e);
    }),
  );
  exited.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`chromium: no result within ${timeoutMs} ms`)), timeoutMs);
  });
  const work = async (): Promise<PageInspection> => {
    const errors: string[] = [];
    const network: string[] = [];
    let sessionId = '';
    let loaded: () => void = () => undefined;
    const loadFired = new Promise<void>((r) => (loaded = r));
    cdp.on((m) => {
      if (m.sessionId !== sessionId) return;
      const p = m.params ?? {};
      switch (m.method) {
        case 'Runtime.consoleAPICalled':
          if (p.type === 'error' || p.type === 'assert')
            errors.push(
              `console.${String(p.type)}: ${JSON.stringify((p.args as Array<{ value?: unknown; description?: string }>).map((a) => a.value ?? a.description))}`,
            );
          break;
        case 'Runtime.exceptionThrown':
          errors.push(
            `exception: ${JSON.stringify((p.exceptionDetails as { text?: string; exception?: { description?: string } })?.exception?.description ?? p.exceptionDetails)}`,
          );
          break;
        case 'Log.entryAdded': {
          const entry = p.entry as { level: string; text: string; url?: string };
          if (entry.level === 'error') errors.push(`log: ${entry.text}${entry.url ? ` (${entry.url})` : ''}`);
          break;
        }
        case 'Network.requestWillBeSent': {
          const url = (p.request as { url: string }).url;
          if (!url.startsWith('file:') && !url.startsWith('data:')) network.push(url);
          break;
        }
        case 'Page.loadEventFired':
          loaded();
          break;
      }
    });
    const { targetId } = (await cdp.send('Target.createTarget', { url: 'about:blank' })) as { targetId: string };
    sessionId = ((await cdp.send('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string })
      .sessionId;
    for (const domain of ['Runtime', 'Log', 'Network', 'Page']) await cdp.send(`${domain}.enable`, {}, sessionId);
    await cdp.send(
      'Emulation.setDeviceMetricsOverride',
      { width: 1280, height: 900, deviceScaleFactor: 1, mobile: false },
      sessionId,
    );
    await cdp.send('Page.navigate', { url: pathToFileURL(path.resolve(file)).href }, sessionId);
    await loadFired;
    const expression = `JSON.stringify({
      title: document.title,
      figures: document.querySelectorAll('figure').length,
      svgBoxes: Array.from(document.querySelectorAll('svg')).map((s) => {
        const r = s.getBoundingClientRect();
        const f = s.closest('figure');
        return { width: r.width, height: r.height, figure: f ? f.id : null };
      }),
    })`;
    const r = (await cdp.send('Runtime.evaluate', { expression, returnByValue: true }, sessionId)) as {
      result: { value: string };
    };
    // Let late console messages arrive.
    await new Promise((res) => setTimeout(res, 200));
    const page = JSON.parse(r.result.value) as Omit<PageInspection, 'errors' | 'network'>;
    await cdp.send('Browser.close').catch(() => undefined);
    return { errors, network, ...page };
  };
  try {
    return await Promise.race([work(), exited, timeout]);
  } finally {
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((r) => child.once('exit', r));
      setTimeout(() => child.kill('SIGKILL'), 3000).unref();
      await gone;
    }
    fs.rmSync(profile, { recursive: true, force: true });
  }
}
