// Exact cost arithmetic for tests, independent of the C code: BigInt pico-USD
// from the price strings, the same normalisation of each provider's usage.
export function picoPerToken(price) {
  const [whole, frac = ''] = String(price).split('.');
  return BigInt(whole) * 1000000n + BigInt((frac + '000000').slice(0, 6));
}

export function formatUsd(pico) {
  const whole = pico / 1000000000000n;
  let frac = (pico % 1000000000000n).toString().padStart(12, '0').replace(/0+$/, '');
  return frac ? `${whole}.${frac}` : `${whole}`;
}

// Provider usage → {input, output, reasoning, cacheRead, cacheWrite} (output includes reasoning).
export function normalise(family, u) {
  if (family === 'anthropic') {
    return { input: u.input_tokens, output: u.output_tokens,
      reasoning: u.output_tokens_details?.thinking_tokens ?? 0,
      cacheRead: u.cache_read_input_tokens ?? 0, cacheWrite: u.cache_creation_input_tokens ?? 0 };
  }
  if (family === 'openai') {
    const cached = u.prompt_tokens_details?.cached_tokens ?? 0;
    return { input: u.prompt_tokens - cached, output: u.completion_tokens,
      reasoning: u.completion_tokens_details?.reasoning_tokens ?? 0, cacheRead: cached, cacheWrite: 0 };
  }
  const cached = u.cachedContentTokenCount ?? 0;
  const thoughts = u.thoughtsTokenCount ?? 0;
  const cand = u.candidatesTokenCount ?? 0;
  const inclusive = u.promptTokenCount + cand === u.totalTokenCount;
  return { input: u.promptTokenCount - cached + (u.toolUsePromptTokenCount ?? 0),
    output: inclusive ? cand : cand + thoughts, reasoning: thoughts, cacheRead: cached, cacheWrite: 0 };
}

export function costUsd(prices, t) {
  const p = (k) => picoPerToken(prices[k] ?? '0');
  const reasoningPrice = prices.reasoning ?? prices.output;
  const pico = BigInt(t.input) * p('input') + BigInt(t.cacheRead) * p('cache_read') +
    BigInt(t.cacheWrite) * p('cache_write') + BigInt(t.output - t.reasoning) * p('output') +
    BigInt(t.reasoning) * picoPerToken(reasoningPrice);
  return formatUsd(pico);
}
