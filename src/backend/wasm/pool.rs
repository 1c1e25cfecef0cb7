//! A small pool of dedicated threads for wasm execution, so a long workload never stalls
//! the async runtime. Each thread has a stack large enough for `MAX_WASM_STACK_BYTES` and
//! enters its own current-thread tokio runtime, which wasmtime-wasi's synchronous calls use.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, mpsc};

use tokio::sync::oneshot;

use crate::error::{Error, Result};

type Job = Box<dyn FnOnce() + Send>;

pub struct Pool {
    sender: Mutex<Option<mpsc::Sender<Job>>>,
}

impl Pool {
    pub fn new(threads: usize, stack_bytes: usize) -> Result<Self> {
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for index in 0..threads.max(1) {
            let receiver = Arc::clone(&receiver);
            std::thread::Builder::new()
                .name(format!("vulcan-wasm-{index}"))
                .stack_size(stack_bytes)
                .spawn(move || work(&receiver))?;
        }
        Ok(Pool {
            sender: Mutex::new(Some(sender)),
        })
    }

    /// Runs `job` on a pool thread and waits for its result.
    pub async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T> {
        let (reply, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(job));
            let _ = reply.send(outcome.ok());
        });
        let sent = match self.sender.lock().expect("pool lock").as_ref() {
            Some(sender) => sender.send(job).is_ok(),
            None => false,
        };
        if !sent {
            return Err(Error::Engine("wasm pool is shut down".into()));
        }
        match result.await {
            Ok(Some(value)) => Ok(value),
            _ => Err(Error::Engine("wasm worker thread panicked".into())),
        }
    }

    /// Lets the threads finish their current job and exit.
    pub fn shutdown(&self) {
        self.sender.lock().expect("pool lock").take();
    }
}

fn work(receiver: &Mutex<mpsc::Receiver<Job>>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime without drivers cannot fail to build");
    let _context = runtime.enter();
    loop {
        let job = match receiver.lock().expect("pool lock").recv() {
            Ok(job) => job,
            Err(_) => return,
        };
        job();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_and_a_panicking_job_is_an_error_not_a_dead_pool() {
        let pool = Pool::new(1, 1 << 20).unwrap();
        assert_eq!(pool.run(|| 2 + 2).await.unwrap(), 4);
        assert!(pool.run(|| panic!("boom")).await.is_err());
        assert_eq!(pool.run(|| "still here").await.unwrap(), "still here");
        pool.shutdown();
        assert!(pool.run(|| ()).await.is_err());
    }
}
