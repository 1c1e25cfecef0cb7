// A KV store on disk.
// expect: {"status": "succeeded", "output": "contained"}
export default async () => {
  try {
    const kv = await Deno.openKv();
    kv.close();
    return "opened";
  } catch {
    return "contained";
  }
};
