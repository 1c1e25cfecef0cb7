// fetch() to the agent on loopback.
// expect: {"status": "succeeded", "output": "contained"}
export default async () => {
  try {
    const response = await fetch("http://AGENT_ADDR/v1/backends");
    return response.status;
  } catch {
    return "contained";
  }
};
