// Bundled for the browser by browser.test.ts: the same core and kernels as on Node, through
// navigator.gpu. Exposes one function the test calls in the page.
import { Runtime } from '@crnn/core';
import { matmul, relu } from '@crnn/kernels';

async function runBrowserSmoke() {
  const rt = await Runtime.create();
  const x = rt.upload([-2, -1, 0, 1, 2], [5]);
  const r = Array.from(await rt.read(relu(rt, x)));
  // A 3x4 by 4x2 product with values whose float32 products and sums are exact.
  const a = Array.from({ length: 12 }, (_, i) => i - 5);
  const b = Array.from({ length: 8 }, (_, i) => (i % 3) - 1);
  const got = Array.from(await rt.read(matmul(rt, rt.upload(a, [3, 4]), rt.upload(b, [4, 2]))));
  const want: number[] = [];
  for (let i = 0; i < 3; i++) for (let j = 0; j < 2; j++) {
    let s = 0;
    for (let k = 0; k < 4; k++) s += a[i * 4 + k]! * b[k * 2 + j]!;
    want.push(s);
  }
  const out = { adapter: rt.adapterName, platform: rt.info.platform, relu: r, matmul: got, matmulWant: want };
  rt.destroy();
  return out;
}

(globalThis as unknown as { runBrowserSmoke: typeof runBrowserSmoke }).runBrowserSmoke = runBrowserSmoke;
