//! Spent stores are dropped on a thread of their own, after the answer has left: dropping one
//! resets its pool slot (wasmtime restores the dirty pages of linear memory from the image,
//! scans the page tables for them and releases the rest), ~0.15 ms with cold caches that
//! the workload's answer does not need to wait for. The workload's place in the tier goes
//! with the store, so a new instance never finds its pool slot still held.

use std::sync::mpsc::{Sender, channel};

type Spent = Box<dyn Send>;

pub struct Retirer {
    spent: Sender<Spent>,
}

impl Retirer {
    /// The thread ends when the `Retirer` is dropped and everything sent has been dropped.
    pub fn spawn() -> std::io::Result<Retirer> {
        let (spent, queue) = channel::<Spent>();
        std::thread::Builder::new()
            .name("vulcan-wasm-reset".into())
            .spawn(move || queue.iter().for_each(drop))?;
        Ok(Retirer { spent })
    }

    /// Drops `spent` on the retiring thread (here, if that thread is gone).
    pub fn retire(&self, spent: impl Send + 'static) {
        if let Err(returned) = self.spent.send(Box::new(spent)) {
            drop(returned);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc::sync_channel;

    use super::*;

    /// Says on which thread it was dropped.
    struct Tell(std::sync::mpsc::SyncSender<Option<String>>);

    impl Drop for Tell {
        fn drop(&mut self) {
            let name = std::thread::current().name().map(str::to_owned);
            let _ = self.0.send(name);
        }
    }

    #[test]
    fn spent_things_are_dropped_on_the_retiring_thread() {
        let retirer = Retirer::spawn().unwrap();
        let (told, dropped_on) = sync_channel(1);
        retirer.retire(Tell(told));
        assert_eq!(
            dropped_on.recv().unwrap().as_deref(),
            Some("vulcan-wasm-reset")
        );
    }
}
