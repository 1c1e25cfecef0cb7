// Strings that are not valid UTF-16 (lone surrogates) in the output and in the logs: the
// answer stays valid JSON, each lone surrogate becomes U+FFFD.
// expect: {"status": "succeeded", "output": "\ufffd and \ufffd 😀", "logs": [{"level": "log", "message": "\ufffd"}]}
export default () => {
  console.log("\ud800");
  return "\ud800 and \udfff \ud83d\ude00";
};
