// A TCP connection to the agent's loopback port (AGENT_PORT is replaced by the runner).
// expect: {"status": "succeeded", "output": "contained"}
export default async () => {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: AGENT_PORT });
    conn.close();
    return "connected";
  } catch {
    return "contained";
  }
};
