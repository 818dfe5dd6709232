"""An e-mail backend for test_alerts_worker: the file backend, which hangs once it has
written its messages, so that a worker can be killed after sending and before the
deliveries are marked sent."""

import os
import time

from django.core.mail.backends import filebased


class HangingFileBackend(filebased.EmailBackend):
    def send_messages(self, email_messages):
        sent = super().send_messages(email_messages)
        time.sleep(float(os.environ.get("MAIL_HANG_SECONDS", "60")))
        return sent
