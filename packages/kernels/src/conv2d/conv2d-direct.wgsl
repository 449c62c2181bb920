// Reference-quality conv2d kernels, one output element per invocation, for adapters without
// subgroups and for kernel sizes the fast kernels do not cover. NCHW, cross-correlation,
// zero padding:  y[n, o, oy, ox] = b[o] + sum w[o, c, ky, kx] * x[n, c, oy*sh - ph + ky, ox*sw - pw + kx]
// Flat indices are folded over a 2-D grid: i = gid.x + gid.y * nwg.x * WG.
override WG: u32 = 64u;
override HAS_BIAS: u32 = 0u;
override ACCUMULATE: u32 = 0u;   // dw: add into the output instead of storing

struct Params {
  n: u32,
  c: u32,
  h: u32,
  w: u32,
  o: u32,
  kh: u32,
  kw: u32,
  sh: u32,
  sw: u32,
  ph: u32,
  pw: u32,
  oh: u32,
  ow: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;       // forward: x;  dx: dy;  dw: dy
@group(0) @binding(2) var<storage, read> b: array<f32>;       // forward: w;  dx: w;   dw: x
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;    // forward only

fn flat(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  let p = params;
  if (i >= p.n * p.o * p.oh * p.ow) { return; }
  let ox = i % p.ow;
  let oy = (i / p.ow) % p.oh;
  let o = (i / (p.ow * p.oh)) % p.o;
  let n = i / (p.ow * p.oh * p.o);
  var s = 0.0;
  for (var c = 0u; c < p.c; c++) {
    for (var ky = 0u; ky < p.kh; ky++) {
      // Unsigned wrap-around makes rows above the input fail the < h test too.
      let iy = oy * p.sh + ky - p.ph;
      if (iy >= p.h) { continue; }
      for (var kx = 0u; kx < p.kw; kx++) {
        let ix = ox * p.sw + kx - p.pw;
        if (ix >= p.w) { continue; }
        s += a[((n * p.c + c) * p.h + iy) * p.w + ix] * b[((o * p.c + c) * p.kh + ky) * p.kw + kx];
      }
    }
  }
  if (HAS_BIAS == 1u) { s += bias[o]; }
  out[i] = s;
}

// dx[n, c, iy, ix] = sum over (o, ky, kx) with oy = (iy + ph - ky) / sh an integer in range
// (likewise ox) of dy[n, o, oy, ox] * w[o, c, ky, kx].
@compute @workgroup_size(WG)
fn dx(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  let p = params;
  if (i >= p.n * p.c * p.h * p.w) { return; }
  let ix = i % p.w;
  let iy = (i / p.w) % p.h;
  let c = (i / (p.w * p.h)) % p.c;
  let n = i / (p.w * p.h * p.c);
  var s = 0.0;
  for (var o = 0u; o < p.o; o++) {
    for (var ky = 0u; ky < p.kh; ky++) {
      let ty = i32(iy + p.ph) - i32(ky);
      if (ty < 0 || ty % i32(p.sh) != 0) { continue; }
      let oy = u32(ty) / p.sh;
      if (oy >= p.oh) { continue; }
      for (var kx = 0u; kx < p.kw; kx++) {
        let tx = i32(ix + p.pw) - i32(kx);
        if (tx < 0 || tx % i32(p.sw) != 0) { continue; }
        let ox = u32(tx) / p.sw;
        if (ox >= p.ow) { continue; }
        s += a[((n * p.o + o) * p.oh + oy) * p.ow + ox] * b[((o * p.c + c) * p.kh + ky) * p.kw + kx];
      }
    }
  }
  out[i] = s;
}

// dw[o, c, ky, kx] = sum over (n, oy, ox) of dy[n, o, oy, ox] * x[n, c, oy*sh + ky - ph, ox*sw + kx - pw].
@compute @workgroup_size(WG)
fn dw(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  let p = params;
  if (i >= p.o * p.c * p.kh * p.kw) { return; }
  let kx = i % p.kw;
  let ky = (i / p.kw) % p.kh;
  let c = (i / (p.kw * p.kh)) % p.c;
  let o = i / (p.kw * p.kh * p.c);
  var s = 0.0;
  for (var n = 0u; n < p.n; n++) {
    for (var oy = 0u; oy < p.oh; oy++) {
      let iy = oy * p.sh + ky - p.ph;
      if (iy >= p.h) { continue; }
      for (var ox = 0u; ox < p.ow; ox++) {
        let ix = ox * p.sw + kx - p.pw;
        if (ix >= p.w) { continue; }
        s += a[((n * p.o + o) * p.oh + oy) * p.ow + ox] * b[((n * p.c + c) * p.h + iy) * p.w + ix];
      }
    }
  }
  if (ACCUMULATE == 1u) { out[i] += s; } else { out[i] = s; }
}
